package process

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"instar/embed"
	"instar/vmm/process/stubelf"
)

// Values shared with the stub; guest/stub/stub.h is their source and
// TestStubHeader checks that the two agree.
const (
	guestBase      = 0x10000            // STUB_GUEST_BASE
	maxRAM         = 1 << 40            // STUB_MAX_RAM
	maxRanges      = 16                 // STUB_MAX_RANGES
	stubReadyMagic = 0x59444145525f5453 // STUB_READY_MAGIC
)

// stubExits names the stub's exit codes (STUB_EXIT_*): the step that failed
// before the guest could start.
var stubExits = map[int]string{
	101: "wrong argument count",
	102: "an argument is not a decimal number",
	103: "inconsistent guest RAM size, entry, stack or ranges",
	104: "mapping guest RAM at its guest addresses failed (is vm.mmap_min_addr above 0x10000, or something mapped there?)",
	105: "unmapping a guest range failed",
	106: "closing the inherited file descriptors failed",
	107: "PR_SET_NO_NEW_PRIVS failed",
	108: "setrlimit failed",
	109: "entering seccomp strict mode failed (is seccomp disabled in this kernel?)",
}

// stubMinFD is the lowest fd number the stub memfd may have. The child
// resolves /proc/self/fd/N at exec, after os.StartProcess has placed the
// guest RAM memfd at ramFD and moved descriptors around just above the
// ones it passes: a low N could name the wrong file by then.
const stubMinFD = 64

// stubImage is the stub, ready to execute: a sealed, read-only memfd that
// lives as long as the process, so no VM copies it again.
type stubImage struct {
	path string // /proc/self/fd/N, resolved in the child before exec
	low  uint64 // lowest address the stub occupies: guest RAM must stay below
}

var loadStubOnce = sync.OnceValues(loadStub)

// loadStub takes the stub's ELF from the embedded bundle, checks it, and
// puts it in a sealed memfd.
func loadStub() (*stubImage, error) {
	b, err := embed.Load()
	if err != nil {
		return nil, fmt.Errorf("load the guest bundle: %w", err)
	}
	bin, err := b.Get("stub")
	if err != nil {
		return nil, fmt.Errorf("%w (rebuild with `go run mage.go guest`)", err)
	}
	low, err := stubelf.Check(bin.Data, maxRAM)
	if err != nil {
		return nil, fmt.Errorf("the embedded process stub: %w", err)
	}
	fd, err := stubMemfd(bin.Data)
	if err != nil {
		return nil, err
	}
	return &stubImage{path: fmt.Sprintf("/proc/self/fd/%d", fd), low: low}, nil
}

// stubMemfd writes data to a memfd, seals it, and returns a read-only,
// close-on-exec descriptor for it numbered at least stubMinFD. Read-only
// because exec refuses a file that is open for writing (ETXTBSY); sealed so
// nothing can change it afterwards.
func stubMemfd(data []byte) (int, error) {
	// MFD_EXEC: kernels with vm.memfd_noexec=1 make memfds non-executable
	// by default; kernels before 6.3 do not know the flag.
	fd, err := unix.MemfdCreate("instar-stub", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate("instar-stub", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return -1, fmt.Errorf("create the stub memfd (an executable memfd is needed; is vm.memfd_noexec 2?): %w", err)
	}
	defer unix.Close(fd)
	for off := 0; off < len(data); {
		n, err := unix.Write(fd, data[off:])
		if err != nil {
			return -1, fmt.Errorf("write the stub memfd: %w", err)
		}
		off += n
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return -1, fmt.Errorf("seal the stub memfd: %w", err)
	}
	ro, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("reopen the stub memfd read-only (is /proc mounted?): %w", err)
	}
	defer unix.Close(ro)
	high, err := unix.FcntlInt(uintptr(ro), unix.F_DUPFD_CLOEXEC, stubMinFD)
	if err != nil {
		return -1, fmt.Errorf("move the stub memfd: %w", err)
	}
	return high, nil
}

// stubMapFailed is the stub's exit code when mapping guest RAM fails.
const stubMapFailed = 104

// stubExitError explains a stub that exited before the guest started.
func stubExitError(code int) error {
	if code == stubMapFailed {
		if b, err := os.ReadFile("/proc/sys/vm/mmap_min_addr"); err == nil {
			var minAddr uint64
			if _, err := fmt.Sscan(string(b), &minAddr); err == nil && minAddr > guestBase {
				return fmt.Errorf("the process stub could not map guest RAM: vm.mmap_min_addr is %d, above the guest's lowest address %#x; set it to 65536 or less", minAddr, guestBase)
			}
		}
	}
	if why, ok := stubExits[code]; ok {
		return fmt.Errorf("the process stub failed before the guest started: %s (exit code %d)", why, code)
	}
	return fmt.Errorf("the process stub exited with code %d before the guest started", code)
}
