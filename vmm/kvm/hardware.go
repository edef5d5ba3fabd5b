package kvm

import (
	"bytes"
	"os"
)

// HardwareAssisted reports whether the CPU advertises hardware
// virtualization (vmx or svm in /proc/cpuinfo). Some hosts offer a working
// /dev/kvm without it — a software implementation that ran the self-test
// about a thousand times slower than the process accelerator — so auto
// picks kvm only when this is true.
func HardwareAssisted() bool {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range bytes.Split(info, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("flags")) {
			continue
		}
		for _, f := range bytes.Fields(line) {
			if string(f) == "vmx" || string(f) == "svm" {
				return true
			}
		}
	}
	return false
}
