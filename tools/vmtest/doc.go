// Package vmtest runs static Linux programs in a virtual machine that has
// /dev/kvm, on hosts that have none, so that instar's KVM accelerator can be
// tested for real.
//
// QEMU's software emulator (TCG) emulates an AMD CPU with SVM and nested
// paging; a Debian 6.1 kernel booted on it loads kvm-amd, and /dev/kvm
// appears. The harness gets that kernel from Debian's packages
// (EnsureKernel), packs the programs to run with a small static Go init into
// an initramfs (BuildInitramfs), boots it (Run) and reports the exit code of
// the command init ran. RunStatic does all three. The project's design note
// on KVM testing has the measurements behind these choices.
//
// Timings inside the emulator say nothing about real KVM speed: use it to
// test behaviour, not to benchmark.
package vmtest
