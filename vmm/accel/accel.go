// Package accel chooses an accelerator by name: kvm, process, or auto. It
// holds the rule auto follows and what doctor says about an accelerator
// auto passes over, so that no command needs to know one accelerator from
// another.
package accel

import (
	"fmt"
	"strings"

	"instar/vmm"
	"instar/vmm/kvm"
	"instar/vmm/process"
)

// All returns every accelerator, in auto's order of preference.
func All() []vmm.Accelerator {
	return []vmm.Accelerator{kvm.New(), process.New()}
}

// Names lists the accepted --accel values: auto, then every accelerator's
// name.
func Names() []string {
	names := []string{"auto"}
	for _, a := range All() {
		names = append(names, a.Name())
	}
	return names
}

// Note says why auto passes acc over even when it is available, or is ""
// when it does not: a /dev/kvm on a CPU without hardware virtualization is
// a software KVM, far slower than the process accelerator.
func Note(acc vmm.Accelerator) string {
	if acc.Name() == "kvm" && !kvm.HardwareAssisted() {
		return "the CPU shows no vmx or svm flag, so this KVM is not hardware-accelerated; --accel auto uses process"
	}
	return ""
}

// Get returns the accelerator for an --accel value. auto picks the first
// accelerator that is available and has no Note, or the last one (whose
// Available then says why it cannot run). A named accelerator is returned
// as is: the caller checks it with CheckUsable.
func Get(name string) (vmm.Accelerator, error) {
	all := All()
	if name == "auto" || name == "" {
		for _, a := range all {
			if Note(a) == "" && a.Available() == nil {
				return a, nil
			}
		}
		return all[len(all)-1], nil
	}
	for _, a := range all {
		if a.Name() == name {
			return a, nil
		}
	}
	return nil, fmt.Errorf("unknown accelerator %q (want %s)", name, strings.Join(Names(), ", "))
}

// CheckUsable says why acc cannot run guests here, and what to do instead,
// if it cannot.
func CheckUsable(acc vmm.Accelerator) error {
	if err := acc.Available(); err != nil {
		return fmt.Errorf("accelerator %s is not usable: %w", acc.Name(), err)
	}
	return nil
}
