// Package cpupin binds the calling thread to the CPU it is running on.
// Every guest exit is a hand-off between threads or processes (the
// command's goroutines, a process guest's tracer and the guest itself);
// on virtualised CPUs a hand-off that crosses CPUs costs more than running
// in parallel saves, and the kernel chose this CPU moments ago. Threads
// and processes the thread starts from then on inherit the binding.
package cpupin

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Here binds the calling thread to the CPU it is running on and returns
// the mask to restore with Restore, or nil when there was nothing to do
// (already on one CPU, or the binding failed: it is only a speed-up).
func Here() *unix.CPUSet {
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil || old.Count() < 2 {
		return nil
	}
	var here uint32
	if _, _, errno := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&here)), 0, 0); errno != 0 || !old.IsSet(int(here)) {
		return nil
	}
	var one unix.CPUSet
	one.Set(int(here))
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		return nil
	}
	return &old
}

// Restore gives the calling thread back the mask Here saved.
func Restore(old *unix.CPUSet) {
	if old != nil {
		_ = unix.SchedSetaffinity(0, old) // widening our own mask back cannot fail
	}
}

// Anywhere lets the calling thread run on any CPU the process may use,
// undoing a binding it inherited. The kernel keeps, of a mask that names
// every CPU, those the process's cpuset allows.
func Anywhere() {
	var all unix.CPUSet
	for i := 0; i < len(all)*64; i++ {
		all.Set(i)
	}
	_ = unix.SchedSetaffinity(0, &all) // only a speed-up
}
