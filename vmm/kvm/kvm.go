// Package kvm is the hardware accelerator: guests run on a KVM vCPU through
// /dev/kvm, started directly in 64-bit long mode. The VMM builds identity-
// mapped page tables and a GDT in the VMM-private region, which the page
// tables leave unmapped, so guest code can reach neither.
package kvm

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"instar/vmm"
	"instar/vmm/kvm/kvmabi"
)

// devicePath is the KVM device; tests point it elsewhere.
var devicePath = "/dev/kvm"

type accel struct{}

// New returns the kvm accelerator.
func New() vmm.Accelerator { return accel{} }

func (accel) Name() string { return "kvm" }

// Available opens /dev/kvm and creates (and drops) a VM, which is what a
// guest run needs; the error says what is missing and what to do.
func (accel) Available() error {
	fd, err := unix.Open(devicePath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ENOENT):
			return fmt.Errorf("%s does not exist (no hardware virtualization here, or the kvm module is not loaded); use --accel process", devicePath)
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			return fmt.Errorf("no permission to open %s (join the kvm group); or use --accel process", devicePath)
		}
		return fmt.Errorf("open %s: %w; use --accel process", devicePath, err)
	}
	defer unix.Close(fd)
	v, err := kvmabi.Ioctl(fd, kvmabi.GetAPIVersion, 0)
	if err != nil || v != 12 {
		return fmt.Errorf("%s speaks KVM API version %d (%v), not 12; use --accel process", devicePath, v, err)
	}
	vm, err := kvmabi.Ioctl(fd, kvmabi.CreateVM, 0)
	if err != nil {
		return fmt.Errorf("%s cannot create a VM: %w; use --accel process", devicePath, err)
	}
	unix.Close(int(vm))
	return nil
}

type machine struct {
	kvm, vm, vcpu int
	mem           []byte
	run           []byte
	cfg           vmm.VMConfig

	// tid is the OS thread that runs the vCPU, for Interrupt's signal.
	tid         atomic.Int32
	interrupted atomic.Bool
	// mu keeps Interrupt (called from a timer) from touching kvm_run
	// while Close unmaps it.
	mu     sync.Mutex
	closed bool
}

// NewVM creates the VM, its memory and its one vCPU, with the vCPU set up
// for long mode at cfg.Entry.
func (accel) NewVM(cfg vmm.VMConfig) (vmm.VM, error) {
	if cfg.RAMSize == 0 || cfg.RAMSize%hugePage != 0 || cfg.RAMSize > maxRAM {
		return nil, fmt.Errorf("RAM size %#x is not a multiple of 2 MiB up to %#x", cfg.RAMSize, maxRAM)
	}
	m := &machine{kvm: -1, vm: -1, vcpu: -1, cfg: cfg}
	if err := m.setup(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *machine) setup() error {
	var err error
	if m.kvm, err = unix.Open(devicePath, unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("open %s: %w", devicePath, err)
	}
	fd, err := kvmabi.Ioctl(m.kvm, kvmabi.CreateVM, 0)
	if err != nil {
		return fmt.Errorf("KVM_CREATE_VM: %w", err)
	}
	m.vm = int(fd)
	// Intel needs a TSS region for its real-mode emulation; AMD ignores it.
	// It sits above guest RAM, where the guest has no mapping.
	if _, err := kvmabi.Ioctl(m.vm, kvmabi.SetTSSAddr, 0xfffbd000); err != nil {
		return fmt.Errorf("KVM_SET_TSS_ADDR: %w", err)
	}
	m.mem, err = unix.Mmap(-1, 0, int(m.cfg.RAMSize), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return fmt.Errorf("map %d bytes of guest RAM: %w", m.cfg.RAMSize, err)
	}
	region := kvmabi.UserspaceMemoryRegion{
		MemorySize:    m.cfg.RAMSize,
		UserspaceAddr: uint64(uintptr(unsafe.Pointer(&m.mem[0]))),
	}
	if _, err := kvmabi.Ioctl(m.vm, kvmabi.SetUserMemoryRegion, uintptr(unsafe.Pointer(&region))); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION: %w", err)
	}
	if fd, err = kvmabi.Ioctl(m.vm, kvmabi.CreateVCPU, 0); err != nil {
		return fmt.Errorf("KVM_CREATE_VCPU: %w", err)
	}
	m.vcpu = int(fd)
	size, err := kvmabi.Ioctl(m.kvm, kvmabi.GetVCPUMmapSize, 0)
	if err != nil {
		return fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	if m.run, err = unix.Mmap(m.vcpu, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fmt.Errorf("map kvm_run: %w", err)
	}
	if err := buildPageTables(m.mem, m.cfg); err != nil {
		return err
	}
	return m.setRegisters()
}

func (m *machine) Memory() []byte { return m.mem }

func (m *machine) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	if m.run != nil {
		unix.Munmap(m.run)
	}
	for _, fd := range []int{m.vcpu, m.vm, m.kvm} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	if m.mem != nil {
		unix.Munmap(m.mem)
	}
	return nil
}

// Interrupt asks KVM to leave the guest: immediate_exit makes the next
// KVM_RUN return at once, and a signal to the vCPU thread kicks it out of a
// KVM_RUN already in progress. SIGURG is the signal Go's runtime already
// uses to preempt threads, so its handler is there and harmless.
func (m *machine) Interrupt() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.interrupted.Store(true)
	if m.closed || m.run == nil {
		return
	}
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&m.run[0])), 1<<(8*kvmabi.RunImmediateExitOff))
	if tid := m.tid.Load(); tid != 0 {
		unix.Tgkill(os.Getpid(), int(tid), unix.SIGURG)
	}
}

// Run enters the guest until its next exit.
func (m *machine) Run() (vmm.Exit, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m.tid.Store(int32(unix.Gettid()))
	defer m.tid.Store(0)
	for {
		if m.interrupted.Load() {
			return vmm.Exit{Kind: vmm.ExitInterrupted, RIP: m.rip()}, nil
		}
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m.vcpu), kvmabi.Run, 0)
		switch errno {
		case 0:
			return m.exit()
		case unix.EINTR, unix.EAGAIN:
			continue // the loop checks whether it was Interrupt
		default:
			return vmm.Exit{}, fmt.Errorf("KVM_RUN: %w", errno)
		}
	}
}

func (m *machine) rip() uint64 {
	var regs kvmabi.Regs
	if _, err := kvmabi.Ioctl(m.vcpu, kvmabi.GetRegs, uintptr(unsafe.Pointer(&regs))); err != nil {
		return 0
	}
	return regs.RIP
}

func (m *machine) exit() (vmm.Exit, error) {
	reason := *(*uint32)(unsafe.Pointer(&m.run[kvmabi.RunExitReasonOff]))
	rip := m.rip()
	switch reason {
	case kvmabi.ExitIO:
		io := m.run[kvmabi.RunIOOff:]
		dir, size := io[0], int(io[1])
		port := uint16(io[2]) | uint16(io[3])<<8
		count := uint32(io[4]) | uint32(io[5])<<8 | uint32(io[6])<<16 | uint32(io[7])<<24
		var off uint64
		for i := 7; i >= 0; i-- {
			off = off<<8 | uint64(io[8+i])
		}
		if count != 1 || (size != 1 && size != 2 && size != 4) || off > uint64(len(m.run)-4) {
			return vmm.Exit{Kind: vmm.ExitFault, RIP: rip,
				Reason: fmt.Sprintf("string or repeated port I/O (count %d, size %d) to port %#x", count, size, port)}, nil
		}
		// KVM reports the exit with RIP already past the instruction.
		e := vmm.Exit{Kind: vmm.ExitIO, RIP: rip, Port: port, Size: size, Out: dir == kvmabi.ExitIOOut}
		if e.Out {
			var v uint32
			for i := size - 1; i >= 0; i-- {
				v = v<<8 | uint32(m.run[off+uint64(i)])
			}
			e.Value = v
		} else {
			for i := 0; i < size; i++ {
				m.run[off+uint64(i)] = 0xff
			}
		}
		return e, nil
	case kvmabi.ExitHLT:
		return vmm.Exit{Kind: vmm.ExitHalt, RIP: rip}, nil
	case kvmabi.ExitShutdown:
		return vmm.Exit{Kind: vmm.ExitFault, RIP: rip, Reason: "triple fault (an exception the guest cannot handle, such as a page fault)"}, nil
	case kvmabi.ExitMMIO:
		return vmm.Exit{Kind: vmm.ExitFault, RIP: rip, Reason: "access to guest-physical memory outside RAM"}, nil
	case kvmabi.ExitFailEntry:
		return vmm.Exit{Kind: vmm.ExitFault, RIP: rip, Reason: "KVM could not enter the guest"}, nil
	case kvmabi.ExitInternalError:
		return vmm.Exit{Kind: vmm.ExitFault, RIP: rip, Reason: "KVM internal error (the guest did something KVM cannot emulate)"}, nil
	case kvmabi.ExitIntr:
		return vmm.Exit{Kind: vmm.ExitInterrupted, RIP: rip}, nil
	}
	return vmm.Exit{Kind: vmm.ExitFault, RIP: rip, Reason: fmt.Sprintf("unexpected KVM exit reason %d", reason)}, nil
}
