package process

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"instar/cpupin"
	"instar/vmm"
)

// ramFD is the guest RAM memfd's number in the child.
const ramFD = 3

// vm is one guest process. Every ptrace request must come from the thread
// that started the child: the caller's locked thread (vmm.VM's
// precondition), on which Run traces directly.
type vm struct {
	cfg vmm.VMConfig
	mem []byte   // guest RAM, mapped MAP_SHARED in the VMM
	ram *os.File // the guest RAM memfd

	done   chan struct{} // closed once Close has reaped the child
	runMu  sync.Mutex    // one Run at a time: one vCPU
	closed sync.Once     // Close runs once
	intr   atomic.Bool   // Interrupt (or Close) was called
	pid    int           // the child, for tests and messages

	tracer *tracer
	tid    int // the thread that created the VM, and so traces the child

	mu     sync.Mutex  // guards proc and reaped against Interrupt
	proc   *os.Process // signals go through its pidfd, so a reaped pid is never hit
	reaped bool
}

// newVM creates guest RAM, starts the child on the caller's thread and
// runs it to the handoff. On any failure everything is released, the child
// included.
func newVM(cfg vmm.VMConfig, stub *stubImage) (_ *vm, err error) {
	v := &vm{cfg: cfg, done: make(chan struct{})}
	defer func() {
		if err != nil {
			v.release()
		}
	}()
	if err := v.makeRAM(); err != nil {
		return nil, err
	}
	t := &tracer{v: v}
	v.tid = unix.Gettid()
	if err := t.start(stub); err != nil {
		cpupin.Restore(t.pinned)
		close(v.done)
		return nil, err
	}
	v.tracer = t
	return v, nil
}

// makeRAM creates the guest RAM memfd, seals its size (so nothing can
// shrink it under the VMM's mapping, which would turn accesses into
// SIGBUS), and maps it.
func (v *vm) makeRAM() error {
	// MFD_NOEXEC_SEAL keeps the memfd itself from being executed (it only
	// seals the exec mode bits; mapping it PROT_EXEC still works) and is
	// required under vm.memfd_noexec=2; kernels before 6.3 do not know it.
	fd, err := unix.MemfdCreate("instar-guest-ram", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_NOEXEC_SEAL)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate("instar-guest-ram", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return fmt.Errorf("process accelerator: create the guest RAM memfd: %w", err)
	}
	v.ram = os.NewFile(uintptr(fd), "instar-guest-ram")
	if err := unix.Ftruncate(fd, int64(v.cfg.RAMSize)); err != nil {
		return fmt.Errorf("process accelerator: size guest RAM to %d bytes: %w", v.cfg.RAMSize, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		return fmt.Errorf("process accelerator: seal guest RAM: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, int(v.cfg.RAMSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("process accelerator: map guest RAM: %w", err)
	}
	v.mem = mem
	return nil
}

// Memory returns guest RAM: Memory()[a] is guest address a.
func (v *vm) Memory() []byte { return v.mem }

// Run resumes the guest until its next exit. After a fault or an
// interrupt the child is gone and Run returns that exit again.
func (v *vm) Run() (vmm.Exit, error) {
	v.runMu.Lock()
	defer v.runMu.Unlock()
	select {
	case <-v.done:
		return vmm.Exit{}, errClosed
	default:
	}
	return v.tracer.run()
}

// Interrupt kills the child, so the current or next Run returns
// ExitInterrupted.
func (v *vm) Interrupt() {
	v.intr.Store(true)
	v.kill()
}

// kill sends SIGKILL to the child unless it has been reaped. os.Process
// signals through a pidfd (kernels 5.3+), so a reaped child's pid, reused
// by another process, is never hit; without pidfds a window of a few
// instructions remains between the tracer's wait4 and markReaped.
func (v *vm) kill() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.proc != nil && !v.reaped {
		// An error means the child is already dead: nothing to do.
		_ = v.proc.Signal(os.Kill)
	}
}

// Close kills and reaps the child and releases guest RAM.
func (v *vm) Close() error {
	v.closed.Do(func() {
		v.Interrupt()
		v.tracer.kill()
		cpupin.Restore(v.tracer.pinned) // the caller's thread goes back to its pool
		close(v.done)
		v.release()
	})
	return nil
}

// release unmaps and closes guest RAM and drops the child's pidfd; the
// child is reaped by then.
func (v *vm) release() {
	if v.mem != nil {
		_ = unix.Munmap(v.mem) // cannot fail for a mapping we made
		v.mem = nil
	}
	if v.ram != nil {
		_ = v.ram.Close()
		v.ram = nil
	}
	v.mu.Lock()
	if v.proc != nil {
		_ = v.proc.Release()
		v.proc = nil
	}
	v.mu.Unlock()
}
