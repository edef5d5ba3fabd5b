//go:build !amd64

package kvm

// Guests are x86-64 code: elsewhere there is nothing to accelerate.
func hasVMX() bool { return false }
func hasSVM() bool { return false }
