package process

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// kill kills and reaps the child unless that is done; it returns the
// status it reaped, if it did.
func (t *tracer) kill() (unix.WaitStatus, bool) {
	if t.isReaped() {
		return 0, false
	}
	t.v.kill()
	for {
		ws, err := t.wait()
		if err != nil {
			// ECHILD: nothing left to reap.
			t.markReaped()
			return 0, false
		}
		// A stop that was pending before the SIGKILL comes first.
		if ws.Exited() || ws.Signaled() {
			t.markReaped()
			return ws, true
		}
	}
}

func (t *tracer) isReaped() bool {
	t.v.mu.Lock()
	defer t.v.mu.Unlock()
	return t.v.proc == nil || t.v.reaped
}

func (t *tracer) markReaped() {
	t.v.mu.Lock()
	t.v.reaped = true
	t.v.mu.Unlock()
}

// wait waits for the child's next stop or exit.
func (t *tracer) wait() (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(t.pid, &ws, unix.WALL, nil)
		if err == nil {
			return ws, nil
		}
		if !errors.Is(err, unix.EINTR) {
			return 0, fmt.Errorf("wait for the guest process %d: %w", t.pid, err)
		}
	}
}

// describeStatus says how a child exited or stopped, for messages.
func describeStatus(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exited with status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("was killed by %v", ws.Signal())
	case ws.Stopped():
		return fmt.Sprintf("stopped with %v", ws.StopSignal())
	}
	return fmt.Sprintf("is in wait status %#x", uint32(ws))
}
