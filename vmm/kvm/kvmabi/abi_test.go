package kvmabi

import (
	"testing"
	"unsafe"
)

// The sizes and Ioctl numbers of linux/kvm.h on x86-64.
func TestABI(t *testing.T) {
	sizes := []struct {
		name      string
		got, want uintptr
	}{
		{"kvm_userspace_memory_region", unsafe.Sizeof(UserspaceMemoryRegion{}), 32},
		{"kvm_regs", unsafe.Sizeof(Regs{}), 144},
		{"kvm_segment", unsafe.Sizeof(Segment{}), 24},
		{"kvm_dtable", unsafe.Sizeof(Dtable{}), 16},
		{"kvm_sregs", unsafe.Sizeof(Sregs{}), 312},
		{"kvm_sregs.gdt", unsafe.Offsetof(Sregs{}.GDT), 192},
		{"kvm_sregs.cr0", unsafe.Offsetof(Sregs{}.CR0), 224},
		{"kvm_sregs.interrupt_bitmap", unsafe.Offsetof(Sregs{}.InterruptBitmap), 280},
	}
	for _, s := range sizes {
		if s.got != s.want {
			t.Errorf("%s: %d, want %d", s.name, s.got, s.want)
		}
	}
	ioctls := []struct {
		name      string
		got, want uint64
	}{
		{"KVM_GET_API_VERSION", GetAPIVersion, 0xAE00},
		{"KVM_CREATE_VM", CreateVM, 0xAE01},
		{"KVM_GET_VCPU_MMAP_SIZE", GetVCPUMmapSize, 0xAE04},
		{"KVM_CREATE_VCPU", CreateVCPU, 0xAE41},
		{"KVM_SET_USER_MEMORY_REGION", SetUserMemoryRegion, 0x4020AE46},
		{"KVM_RUN", Run, 0xAE80},
		{"KVM_GET_REGS", GetRegs, 0x8090AE81},
		{"KVM_SET_REGS", SetRegs, 0x4090AE82},
		{"KVM_GET_SREGS", GetSregs, 0x8138AE83},
		{"KVM_SET_SREGS", SetSregs, 0x4138AE84},
	}
	for _, c := range ioctls {
		if c.got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, c.got, c.want)
		}
	}
}
