package kvm

// cpuid executes CPUID (cpuid_amd64.s).
func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)

// hasVMX is CPUID.1:ECX bit 5.
func hasVMX() bool {
	if max, _, _, _ := cpuid(0, 0); max < 1 {
		return false
	}
	_, _, ecx, _ := cpuid(1, 0)
	return ecx&(1<<5) != 0
}

// hasSVM is CPUID.80000001h:ECX bit 2.
func hasSVM() bool {
	if max, _, _, _ := cpuid(0x80000000, 0); max < 0x80000001 {
		return false
	}
	_, _, ecx, _ := cpuid(0x80000001, 0)
	return ecx&(1<<2) != 0
}
