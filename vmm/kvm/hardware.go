package kvm

// HardwareAssisted reports whether the CPU advertises hardware
// virtualization (Intel VMX or AMD SVM). Some hosts offer a working
// /dev/kvm without it, a software implementation far slower than the
// process accelerator, so auto (vmm/accel) picks kvm only when this is
// true. It asks CPUID, as the kernel does for
// the vmx and svm flags of /proc/cpuinfo, which costs a syscall-free
// instruction instead of having the kernel format cpuinfo for every CPU.
func HardwareAssisted() bool {
	return hasVMX() || hasSVM()
}
