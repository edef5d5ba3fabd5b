// Package accel chooses an accelerator by name: kvm, process, or auto
// (kvm when /dev/kvm is usable on a CPU with hardware virtualization, else
// process).
package accel

import (
	"fmt"

	"instar/vmm"
	"instar/vmm/kvm"
	"instar/vmm/process"
)

// Names lists the accepted --accel values.
var Names = []string{"auto", "kvm", "process"}

// All returns every accelerator, kvm first.
func All() []vmm.Accelerator {
	return []vmm.Accelerator{kvm.New(), process.New()}
}

// Get returns the accelerator for an --accel value. auto picks kvm when it
// is usable and the CPU has hardware virtualization, and process otherwise. A named accelerator is returned as is:
// the caller checks Available and reports why it cannot be used.
func Get(name string) (vmm.Accelerator, error) {
	switch name {
	case "kvm":
		return kvm.New(), nil
	case "process":
		return process.New(), nil
	case "auto", "":
		if k := kvm.New(); kvm.HardwareAssisted() && k.Available() == nil {
			return k, nil
		}
		return process.New(), nil
	}
	return nil, fmt.Errorf("unknown accelerator %q (want auto, kvm or process)", name)
}

// CheckUsable says why acc cannot run guests here, and what to do instead,
// if it cannot.
func CheckUsable(acc vmm.Accelerator) error {
	if err := acc.Available(); err != nil {
		return fmt.Errorf("accelerator %s is not usable: %w", acc.Name(), err)
	}
	return nil
}
