package kvm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Available must say plainly why KVM cannot be used and what to do.
func TestAvailableExplains(t *testing.T) {
	dir := t.TempDir()
	notKVM := filepath.Join(dir, "not-kvm")
	if err := os.WriteFile(notKVM, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "missing"), "does not exist"},
		{notKVM, "API version"},
	}
	defer func(p string) { devicePath = p }(devicePath)
	for _, c := range cases {
		devicePath = c.path
		err := New().Available()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--accel process") {
			t.Errorf("%s: Available() = %v; want it to say %q and suggest --accel process", c.path, err, c.want)
		}
	}
}

// TestHardwareAssistedAgreesWithCPUInfo checks CPUID's answer against the
// kernel's vmx and svm flags.
func TestHardwareAssistedAgreesWithCPUInfo(t *testing.T) {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	flagged := false
	for _, line := range strings.Split(string(info), "\n") {
		if !strings.HasPrefix(line, "flags") {
			continue
		}
		for _, f := range strings.Fields(line) {
			flagged = flagged || f == "vmx" || f == "svm"
		}
	}
	if got := HardwareAssisted(); got != flagged {
		t.Errorf("HardwareAssisted() = %v; /proc/cpuinfo has vmx or svm: %v", got, flagged)
	}
}
