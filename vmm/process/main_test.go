package process

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain fails the run if any guest process outlived its test, dead
// (a zombie nobody reaped) or alive.
func TestMain(m *testing.M) {
	code := m.Run()
	var ws unix.WaitStatus
	if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG|unix.WALL, nil); !errors.Is(err, unix.ECHILD) {
		fmt.Fprintf(os.Stderr, "a guest process is left over: wait4 = %d, %v\n", pid, err)
		code = 1
	}
	os.Exit(code)
}
