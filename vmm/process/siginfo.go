package process

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// siKernel is si_code for a signal the kernel raised for a fault that has
// no address, such as #GP (SI_KERNEL).
const siKernel = 0x80

// siginfo is the part of a stopped child's siginfo_t the tracer uses.
type siginfo struct {
	signo int32
	code  int32
	addr  uint64 // si_addr: the faulting address for SIGSEGV and SIGBUS
}

// getSiginfo is PTRACE_GETSIGINFO, which x/sys/unix does not wrap.
func getSiginfo(pid int) (siginfo, error) {
	var raw [128]byte // sizeof(siginfo_t)
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(pid), 0,
		uintptr(unsafe.Pointer(&raw[0])), 0, 0)
	if errno != 0 {
		return siginfo{}, errno
	}
	// x86-64 layout: si_signo at 0, si_errno at 4, si_code at 8, the
	// union (si_addr first for faults) at 16.
	le := binary.LittleEndian
	return siginfo{
		signo: int32(le.Uint32(raw[0:])),
		code:  int32(le.Uint32(raw[8:])),
		addr:  le.Uint64(raw[16:]),
	}, nil
}
