// Package process is the accelerator for hosts without usable /dev/kvm
// (containers, CI runners, cloud VMs without nested virtualization).
//
// The guest's core and operation run natively in a child process. Guest RAM
// is a memfd that the VMM maps anywhere (VM.Memory) and the child maps at
// the guest addresses. The child is a tiny freestanding stub (guest/stub/,
// embedded in the guest bundle) that maps guest RAM, drops every privilege
// (no fds, no_new_privs, zero rlimits, seccomp strict) and jumps to core.
// The VMM traces it with ptrace: OUT, IN and HLT fault in user mode and are
// emulated exactly as KVM exits would be; any other signal, or any system
// call after the handoff, is a guest fault.
package process

import (
	"errors"
	"fmt"
	"os"

	"instar/vmm"
)

// accel is the process accelerator.
type accel struct{}

// New returns the process accelerator.
func New() vmm.Accelerator { return accel{} }

// Name returns "process".
func (accel) Name() string { return "process" }

// Available checks what the accelerator needs and can check cheaply:
// /proc/self/fd. The stub (in an executable memfd), guest addresses at or
// above vm.mmap_min_addr, and ptrace are first used by NewVM, whose error
// says what is missing: NewVM runs in the background while the host
// prepares a run, so the work is best done there.
func (accel) Available() error {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		return fmt.Errorf("process accelerator unavailable: /proc is not mounted: %w", err)
	}
	return nil
}

// NewVM starts a guest process for cfg: guest RAM is mapped, the stub has
// dropped its privileges and is stopped just before jumping to cfg.Entry.
func (accel) NewVM(cfg vmm.VMConfig) (vmm.VM, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, fmt.Errorf("process accelerator: %w", err)
	}
	stub, err := loadStubOnce()
	if err != nil {
		return nil, fmt.Errorf("process accelerator: %w", err)
	}
	if cfg.RAMSize > stub.low {
		return nil, fmt.Errorf("process accelerator: guest RAM of %d bytes would overlap the stub at %#x", cfg.RAMSize, stub.low)
	}
	v, err := newVM(cfg, stub)
	if err != nil {
		return nil, err // not a nil *vm in a non-nil interface
	}
	return v, nil
}

// checkConfig checks cfg against what the stub can set up: RAM a multiple
// of 2 MiB above the VMM-private region, entry and stack inside guest RAM
// the child maps, page-aligned unmapped ranges inside guest RAM.
func checkConfig(cfg vmm.VMConfig) error {
	const align = 2 << 20
	if cfg.RAMSize == 0 || cfg.RAMSize%align != 0 || cfg.RAMSize > maxRAM {
		return fmt.Errorf("guest RAM size %#x is not a multiple of 2 MiB up to %#x", cfg.RAMSize, uint64(maxRAM))
	}
	if len(cfg.Unmapped) > maxRanges {
		return fmt.Errorf("%d unmapped ranges, more than %d", len(cfg.Unmapped), maxRanges)
	}
	for _, r := range cfg.Unmapped {
		if r.Start >= r.End || r.End > cfg.RAMSize || r.Start%pageSize != 0 || r.End%pageSize != 0 {
			return fmt.Errorf("unmapped range [%#x, %#x) is empty, unaligned or outside guest RAM", r.Start, r.End)
		}
	}
	if !mapped(cfg, cfg.Entry) {
		return fmt.Errorf("entry %#x is not in mapped guest RAM", cfg.Entry)
	}
	if cfg.StackTop <= guestBase || cfg.StackTop > cfg.RAMSize || !mapped(cfg, cfg.StackTop-1) {
		return fmt.Errorf("stack top %#x is not in mapped guest RAM", cfg.StackTop)
	}
	return nil
}

const pageSize = 4096

// mapped reports whether guest address a is mapped in the child: inside
// guest RAM, at or above guestBase, and in no unmapped range.
func mapped(cfg vmm.VMConfig, a uint64) bool {
	if a < guestBase || a >= cfg.RAMSize {
		return false
	}
	for _, r := range cfg.Unmapped {
		if a >= r.Start && a < r.End {
			return false
		}
	}
	return true
}

// errClosed is returned by Run on a closed VM.
var errClosed = errors.New("process accelerator: the VM is closed")
