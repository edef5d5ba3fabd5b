// Command kvmprobe proves that /dev/kvm works: it runs a four-instruction
// real-mode guest (mov dx,0x600; mov al,0x42; out dx,al; hlt) and checks
// that KVM reports the port write and then the halt. It prints
// "kvmprobe: ok io port=0x600 value=0x42, hlt" and exits 0 on success, and
// exits 1 with the reason otherwise; it takes no arguments and exits 2 when
// given any. It is the vmtest harness's self-test and is built with
// CGO_ENABLED=0.
package main

import (
	"instar/vmm/kvm/kvmabi"

	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	memSize   = 2 << 20 // guest RAM
	codeAddr  = 0x1000  // where the guest program is loaded and starts
	probePort = 0x600
	probeByte = 0x42
)

// guestCode is mov dx,0x600; mov al,0x42; out dx,al; hlt in 16-bit code.
var guestCode = []byte{0xBA, 0x00, 0x06, 0xB0, 0x42, 0xEE, 0xF4}

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintf(os.Stderr, "kvmprobe: takes no arguments, got %q\n", os.Args[1:])
		os.Exit(2)
	}
	if err := probe(); err != nil {
		fmt.Fprintf(os.Stderr, "kvmprobe: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("kvmprobe: ok io port=%#x value=%#x, hlt\n", probePort, probeByte)
}

// probe runs the guest and checks its exits.
func probe() error {
	// A vCPU is best driven from a single thread.
	runtime.LockOSThread()

	kvm, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening /dev/kvm: %w", err)
	}
	defer unix.Close(kvm)
	v, err := kvmabi.Ioctl(kvm, kvmabi.GetAPIVersion, 0)
	if err != nil {
		return fmt.Errorf("KVM_GET_API_VERSION: %w", err)
	}
	if v != 12 {
		return fmt.Errorf("KVM API version %d, want 12", v)
	}
	vm, err := createVM(kvm)
	if err != nil {
		return err
	}
	defer unix.Close(vm)
	mem, err := addMemory(vm)
	if err != nil {
		return err
	}
	defer unix.Munmap(mem)
	copy(mem[codeAddr:], guestCode)

	vcpu, run, err := createVCPU(kvm, vm)
	if err != nil {
		return err
	}
	defer unix.Close(vcpu)
	defer unix.Munmap(run)
	if err := setRealMode(vcpu, codeAddr); err != nil {
		return err
	}

	if err := runOnce(vcpu); err != nil {
		return err
	}
	if err := checkIOExit(run); err != nil {
		return err
	}
	if err := runOnce(vcpu); err != nil {
		return err
	}
	if r := exitReason(run); r != kvmabi.ExitHLT {
		return fmt.Errorf("second exit: reason %d, want KVM_EXIT_HLT (%d)", r, kvmabi.ExitHLT)
	}
	return nil
}

// createVM creates a VM.
func createVM(kvm int) (int, error) {
	fd, err := kvmabi.Ioctl(kvm, kvmabi.CreateVM, 0)
	if err != nil {
		return -1, fmt.Errorf("KVM_CREATE_VM: %w", err)
	}
	return int(fd), nil
}

// addMemory maps memSize bytes of anonymous memory as guest RAM at
// guest-physical 0.
func addMemory(vm int) ([]byte, error) {
	mem, err := unix.Mmap(-1, 0, memSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("mapping guest memory: %w", err)
	}
	region := kvmabi.UserspaceMemoryRegion{
		MemorySize:    memSize,
		UserspaceAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))),
	}
	if _, err := kvmabi.Ioctl(vm, kvmabi.SetUserMemoryRegion, uintptr(unsafe.Pointer(&region))); err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("KVM_SET_USER_MEMORY_REGION: %w", err)
	}
	return mem, nil
}

// createVCPU creates vCPU 0 and maps its kvm_run structure.
func createVCPU(kvm, vm int) (int, []byte, error) {
	fd, err := kvmabi.Ioctl(vm, kvmabi.CreateVCPU, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("KVM_CREATE_VCPU: %w", err)
	}
	vcpu := int(fd)
	size, err := kvmabi.Ioctl(kvm, kvmabi.GetVCPUMmapSize, 0)
	if err != nil {
		unix.Close(vcpu)
		return -1, nil, fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	run, err := unix.Mmap(vcpu, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(vcpu)
		return -1, nil, fmt.Errorf("mapping kvm_run: %w", err)
	}
	return vcpu, run, nil
}

// setRealMode points the vCPU, which starts in real mode, at ip with a code
// segment of base 0.
func setRealMode(vcpu int, ip uint64) error {
	var sregs kvmabi.Sregs
	if _, err := kvmabi.Ioctl(vcpu, kvmabi.GetSregs, uintptr(unsafe.Pointer(&sregs))); err != nil {
		return fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	sregs.CS.Base, sregs.CS.Selector = 0, 0
	if _, err := kvmabi.Ioctl(vcpu, kvmabi.SetSregs, uintptr(unsafe.Pointer(&sregs))); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	regs := kvmabi.Regs{RIP: ip, RFLAGS: 2} // bit 1 of RFLAGS is always set
	if _, err := kvmabi.Ioctl(vcpu, kvmabi.SetRegs, uintptr(unsafe.Pointer(&regs))); err != nil {
		return fmt.Errorf("KVM_SET_REGS: %w", err)
	}
	return nil
}

// runOnce runs the vCPU until its next exit to user space.
func runOnce(vcpu int) error {
	if _, err := kvmabi.Ioctl(vcpu, kvmabi.Run, 0); err != nil {
		return fmt.Errorf("KVM_RUN: %w", err)
	}
	return nil
}

// exitReason returns kvm_run.exit_reason.
func exitReason(run []byte) uint32 {
	return binary.LittleEndian.Uint32(run[kvmabi.RunExitReasonOff:])
}

// checkIOExit checks that the exit in run is the guest's one-byte OUT of
// probeByte to probePort.
func checkIOExit(run []byte) error {
	if r := exitReason(run); r != kvmabi.ExitIO {
		return fmt.Errorf("first exit: reason %d, want KVM_EXIT_IO (%d)", r, kvmabi.ExitIO)
	}
	io := run[kvmabi.RunIOOff:]
	dir, size := io[0], io[1]
	port := binary.LittleEndian.Uint16(io[2:])
	count := binary.LittleEndian.Uint32(io[4:])
	dataOff := binary.LittleEndian.Uint64(io[8:])
	if dir != kvmabi.ExitIOOut || size != 1 || port != probePort || count != 1 {
		return fmt.Errorf("first exit: io dir=%d size=%d port=%#x count=%d, want out of 1 byte to %#x",
			dir, size, port, count, probePort)
	}
	if dataOff >= uint64(len(run)) {
		return errors.New("first exit: io data offset outside kvm_run")
	}
	if b := run[dataOff]; b != probeByte {
		return fmt.Errorf("first exit: io value %#x, want %#x", b, probeByte)
	}
	return nil
}
