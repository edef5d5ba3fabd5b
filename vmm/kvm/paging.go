package kvm

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"instar/vmm"
	"instar/vmm/kvm/kvmabi"
)

// The VMM-private region's layout. Everything here is below 0x10000, which
// the page tables leave unmapped.
const (
	gdtAddr   = 0x0800
	pml4Addr  = 0x1000
	pdptAddr  = 0x2000
	pdAddr    = 0x3000
	ptBase    = 0x4000 // page tables for 2 MiB regions that need 4 KiB pages
	ptLimit   = 0x10000
	pageSize  = 0x1000
	hugePage  = 0x200000
	maxRAM    = 512 * hugePage // one page directory
	pteFlags  = 0x3            // present, writable
	pdeLarge  = 0x80           // PS: a 2 MiB page
	codeSel   = 0x08
	dataSel   = 0x10
	cr0PE     = 1 << 0
	cr0MP     = 1 << 1
	cr0ET     = 1 << 4
	cr0NE     = 1 << 5
	cr0WP     = 1 << 16
	cr0PG     = 1 << 31
	cr4PAE    = 1 << 5
	eferLME   = 1 << 8
	eferLMA   = 1 << 10
	rflagsBit = 1 << 1 // always set
)

func unmapped(cfg vmm.VMConfig, addr uint64) bool {
	for _, r := range cfg.Unmapped {
		if addr >= r.Start && addr < r.End {
			return true
		}
	}
	return false
}

// buildPageTables identity-maps guest RAM, with 2 MiB pages where it can and
// 4 KiB pages around the ranges the guest must not touch, which stay
// unmapped: a guest access there is a page fault, and with no IDT, a triple
// fault that stops the guest.
func buildPageTables(mem []byte, cfg vmm.VMConfig) error {
	le := binary.LittleEndian
	le.PutUint64(mem[pml4Addr:], pdptAddr|pteFlags)
	le.PutUint64(mem[pdptAddr:], pdAddr|pteFlags)
	nextPT := uint64(ptBase)
	for base := uint64(0); base < cfg.RAMSize; base += hugePage {
		pde := mem[pdAddr+base/hugePage*8:]
		whole := true
		for a := base; a < base+hugePage; a += pageSize {
			if unmapped(cfg, a) {
				whole = false
				break
			}
		}
		if whole {
			le.PutUint64(pde, base|pteFlags|pdeLarge)
			continue
		}
		if nextPT >= ptLimit {
			return fmt.Errorf("too many unmapped ranges for the page-table space")
		}
		for i := uint64(0); i < hugePage/pageSize; i++ {
			a := base + i*pageSize
			if !unmapped(cfg, a) {
				le.PutUint64(mem[nextPT+i*8:], a|pteFlags)
			}
		}
		le.PutUint64(pde, nextPT|pteFlags)
		nextPT += pageSize
	}
	// Null, 64-bit code, data. The CPU reads them only if a segment is
	// reloaded, which guest code never does; they are here for consistency.
	le.PutUint64(mem[gdtAddr:], 0)
	le.PutUint64(mem[gdtAddr+codeSel:], 0x00af9b000000ffff)
	le.PutUint64(mem[gdtAddr+dataSel:], 0x00cf93000000ffff)
	return nil
}

// setRegisters puts the vCPU in 64-bit long mode at the entry point.
func (m *machine) setRegisters() error {
	var sregs kvmabi.Sregs
	if _, err := kvmabi.Ioctl(m.vcpu, kvmabi.GetSregs, uintptr(unsafe.Pointer(&sregs))); err != nil {
		return fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	code := kvmabi.Segment{Base: 0, Limit: 0xffffffff, Selector: codeSel, Type: 11,
		Present: 1, S: 1, L: 1, G: 1}
	data := kvmabi.Segment{Base: 0, Limit: 0xffffffff, Selector: dataSel, Type: 3,
		Present: 1, S: 1, DB: 1, G: 1}
	sregs.CS = code
	sregs.DS, sregs.ES, sregs.FS, sregs.GS, sregs.SS = data, data, data, data, data
	sregs.GDT = kvmabi.Dtable{Base: gdtAddr, Limit: 3*8 - 1}
	sregs.IDT = kvmabi.Dtable{Base: 0, Limit: 0} // no IDT: any exception is a triple fault
	sregs.CR3 = pml4Addr
	sregs.CR4 = cr4PAE
	sregs.CR0 = cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0PG
	sregs.EFER = eferLME | eferLMA
	if _, err := kvmabi.Ioctl(m.vcpu, kvmabi.SetSregs, uintptr(unsafe.Pointer(&sregs))); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	// With MTRRs off, guest memory may be uncached, which made a simple
	// loop over 64 KiB take half a second under nested KVM.
	msrs := kvmabi.MSRs{NMSRs: 1, Entry: kvmabi.MSREntry{Index: kvmabi.MSRMTRRDefType, Data: kvmabi.MTRREnableWriteBack}}
	if n, err := kvmabi.Ioctl(m.vcpu, kvmabi.SetMSRs, uintptr(unsafe.Pointer(&msrs))); err != nil || n != 1 {
		return fmt.Errorf("KVM_SET_MSRS (MTRR default type): %d set, %v", n, err)
	}
	regs := kvmabi.Regs{RIP: m.cfg.Entry, RSP: m.cfg.StackTop, RFLAGS: rflagsBit}
	if _, err := kvmabi.Ioctl(m.vcpu, kvmabi.SetRegs, uintptr(unsafe.Pointer(&regs))); err != nil {
		return fmt.Errorf("KVM_SET_REGS: %w", err)
	}
	return nil
}
