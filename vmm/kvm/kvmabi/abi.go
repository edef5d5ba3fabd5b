// Package kvmabi is the part of linux/kvm.h that instar uses on x86-64:
// ioctl numbers, structs and kvm_run offsets, checked by a test.
package kvmabi

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ioctl direction bits (asm-generic/ioctl.h).
const (
	iocWrite = 1
	iocRead  = 2
)

// kvmIO is KVMIO, the ioctl type of /dev/kvm and its descendants.
const kvmIO = 0xAE

// ioctl numbers (linux/kvm.h), computed as _IO/_IOR/_IOW do.
const (
	GetAPIVersion       = kvmIO<<8 | 0x00
	CreateVM            = kvmIO<<8 | 0x01
	GetVCPUMmapSize     = kvmIO<<8 | 0x04
	CreateVCPU          = kvmIO<<8 | 0x41
	SetUserMemoryRegion = iocWrite<<30 | uint64(unsafe.Sizeof(UserspaceMemoryRegion{}))<<16 | kvmIO<<8 | 0x46
	Run                 = kvmIO<<8 | 0x80
	GetRegs             = iocRead<<30 | uint64(unsafe.Sizeof(Regs{}))<<16 | kvmIO<<8 | 0x81
	SetRegs             = iocWrite<<30 | uint64(unsafe.Sizeof(Regs{}))<<16 | kvmIO<<8 | 0x82
	GetSregs            = iocRead<<30 | uint64(unsafe.Sizeof(Sregs{}))<<16 | kvmIO<<8 | 0x83
	SetSregs            = iocWrite<<30 | uint64(unsafe.Sizeof(Sregs{}))<<16 | kvmIO<<8 | 0x84
	SetTSSAddr          = kvmIO<<8 | 0x47
	SetMSRs             = iocWrite<<30 | 8<<16 | kvmIO<<8 | 0x89 // struct kvm_msrs is 8 bytes before its entries
)

// MSRs instar sets.
const (
	// MSRMTRRDefType is IA32_MTRR_DEF_TYPE.
	MSRMTRRDefType = 0x2ff
	// MTRREnableWriteBack enables MTRRs with write-back as the default type.
	MTRREnableWriteBack = 1<<11 | 6
)

// MSRs is struct kvm_msrs with one entry.
type MSRs struct {
	NMSRs uint32
	_     uint32
	Entry MSREntry
}

// MSREntry is struct kvm_msr_entry.
type MSREntry struct {
	Index    uint32
	Reserved uint32
	Data     uint64
}

// Exit reasons and kvm_run layout (linux/kvm.h, x86-64).
const (
	ExitIO            = 2
	ExitHLT           = 5
	ExitMMIO          = 6
	ExitShutdown      = 8
	ExitFailEntry     = 9
	ExitIntr          = 10
	ExitInternalError = 17

	ExitIOOut = 1

	RunImmediateExitOff = 1  // __u8 immediate_exit
	RunExitReasonOff    = 8  // __u32 exit_reason
	RunIOOff            = 32 // the exit union: struct { direction, size u8; port u16; count u32; data_offset u64 } io
)

// UserspaceMemoryRegion is struct kvm_userspace_memory_region.
type UserspaceMemoryRegion struct {
	Slot          uint32
	Flags         uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

// Regs is struct kvm_regs (x86).
type Regs struct {
	RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	RIP, RFLAGS                            uint64
}

// Segment is struct kvm_segment (x86).
type Segment struct {
	Base                           uint64
	Limit                          uint32
	Selector                       uint16
	Type                           uint8
	Present, DPL, DB, S, L, G, AVL uint8
	Unusable                       uint8
	_                              uint8
}

// Dtable is struct kvm_dtable (x86).
type Dtable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

// Sregs is struct kvm_sregs (x86).
type Sregs struct {
	CS, DS, ES, FS, GS, SS  Segment
	TR, LDT                 Segment
	GDT, IDT                Dtable
	CR0, CR2, CR3, CR4, CR8 uint64
	EFER                    uint64
	APICBase                uint64
	InterruptBitmap         [4]uint64 // (KVM_NR_INTERRUPTS + 63) / 64
}

// Ioctl issues an Ioctl whose argument is an integer or a pointer, retrying
// when a signal interrupts it.
func Ioctl(fd int, req uint64, arg uintptr) (uintptr, error) {
	for {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), arg)
		switch errno {
		case 0:
			return r, nil
		case unix.EINTR:
			continue
		default:
			return r, fmt.Errorf("Ioctl %#x: %w", req, errno)
		}
	}
}
