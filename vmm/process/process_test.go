package process

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"instar/cpupin"
	"instar/shared"
	"instar/vmm"
)

func TestAvailable(t *testing.T) {
	if err := New().Available(); err != nil {
		t.Fatal(err)
	}
	if New().Name() != "process" {
		t.Fatal(New().Name())
	}
}

// TestSelftest runs core and the selftest operation to HLT, traced on the
// test's locked thread.
func TestSelftest(t *testing.T) {
	h := newHost()
	cfg := testConfig()
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Fatal(err)
	}
	v := h.loadWith(t, cfg, guestBinary(t, "core"), guestBinary(t, "selftest"))
	pid := childPid(v)
	// The child runs on one CPU, the one its tracer is bound to.
	var child unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &child); err != nil {
		t.Fatal(err)
	}
	if before.Count() > 1 && child.Count() != 1 {
		t.Errorf("the guest process may run on %d CPUs, want 1", child.Count())
	}
	defer func() {
		var after unix.CPUSet
		if err := unix.SchedGetaffinity(0, &after); err != nil || after != before {
			t.Errorf("the caller's thread is left bound to %d CPUs (was %d): %v", after.Count(), before.Count(), err)
		}
	}()
	// Another thread may not drive the VM.
	errs := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		_, err := v.Run()
		errs <- err
	}()
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "thread rule") {
		t.Fatalf("Run from another thread: %v, want the thread rule's error", err)
	}
	e, err := h.serve(v)
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != vmm.ExitHalt {
		t.Fatalf("exit %v (%s), want hlt", e.Kind, e.Reason)
	}
	if e.RIP < shared.CoreLoadAddr || e.RIP >= shared.CoreLoadAddr+shared.CoreMaxSize {
		t.Errorf("halted at %#x, outside core", e.RIP)
	}
	if err := h.check(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pid)
	if err := v.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := v.Run(); err == nil {
		t.Fatal("Run after Close succeeded")
	}
}

// TestParallel runs several guests at once, each with its own tracer
// thread.
func TestParallel(t *testing.T) {
	const n = 4
	errs := make(chan error, n)
	core, op := guestBinary(t, "core"), guestBinary(t, "selftest")
	for range n {
		h := newHost()
		go func() {
			runtime.LockOSThread() // the thread rule; the thread retires with the goroutine
			v, err := h.start(testConfig(), core, op)
			if err != nil {
				errs <- err
				return
			}
			defer v.Close()
			e, err := h.serve(v)
			if err == nil && e.Kind != vmm.ExitHalt {
				err = fmt.Errorf("exit %+v", e)
			}
			if err == nil {
				err = h.check()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// runOp starts core with code as the operation and returns the VM.
func runOp(t *testing.T, code []byte) vmm.VM {
	t.Helper()
	v := newHost().load(t, guestBinary(t, "core"), code)
	t.Cleanup(func() {
		pid := childPid(v)
		if err := v.Close(); err != nil {
			t.Error(err)
		}
		assertGone(t, pid)
	})
	return v
}

const op = shared.OperationLoadAddr

// TestFaults runs operations that fault, each of which must end the guest
// with a fault at the right RIP.
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   []byte
		plant  map[uint64][]byte // bytes written elsewhere in guest RAM
		rip    uint64
		reason []string
	}{
		// movb $1, 0xff0000: the stack guard page.
		{name: "guard page", code: []byte{0xc6, 0x04, 0x25, 0x00, 0x00, 0xff, 0x00, 0x01},
			rip: op, reason: []string{"SIGSEGV", "addr 0xff0000"}},
		// movb $1, 0x8000: the VMM-private region.
		{name: "vmm private", code: []byte{0xc6, 0x04, 0x25, 0x00, 0x80, 0x00, 0x00, 0x01},
			rip: op, reason: []string{"SIGSEGV", "addr 0x8000"}},
		// movb $1, 0x1000000: past guest RAM.
		{name: "past RAM", code: []byte{0xc6, 0x04, 0x25, 0x00, 0x00, 0x00, 0x01, 0x01},
			rip: op, reason: []string{"SIGSEGV", "addr 0x1000000"}},
		{name: "ud2", code: []byte{0x0f, 0x0b}, rip: op, reason: []string{"SIGILL"}},
		// cli: privileged, but not one the VMM emulates.
		{name: "cli", code: []byte{0xfa}, rip: op, reason: []string{"general protection"}},
		// int3
		{name: "int3", code: []byte{0xcc}, rip: op + 1, reason: []string{"SIGTRAP"}},
		// xor ecx,ecx; div ecx
		{name: "divide", code: []byte{0x31, 0xc9, 0xf7, 0xf1}, rip: op + 2, reason: []string{"SIGFPE"}},
		// mov $60, %eax; syscall: exit, which seccomp strict would allow.
		{name: "syscall exit", code: []byte{0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05}, rip: op + 5,
			reason: []string{"system call 60"}},
		// mov $1, %eax; syscall: write.
		{name: "syscall write", code: []byte{0xb8, 1, 0, 0, 0, 0x0f, 0x05}, rip: op + 5,
			reason: []string{"system call 1"}},
		// mov $39, %eax; int $0x80
		{name: "int 0x80", code: []byte{0xb8, 39, 0, 0, 0, 0xcd, 0x80}, rip: op + 5,
			reason: []string{"system call"}},
		// mov $0xff0000, %eax; jmp *%rax: an OUT planted in the guard page
		// as the host sees it must not be emulated, since the guest cannot
		// reach it.
		{name: "jump to guard page", code: []byte{0xb8, 0, 0, 0xff, 0, 0xff, 0xe0},
			plant: map[uint64][]byte{shared.StackGuardAddr: {0xef}},
			rip:   shared.StackGuardAddr, reason: []string{"SIGSEGV", "addr 0xff0000"}},
		// jump into the VMM-private region, with a HLT planted there.
		{name: "jump to vmm private", code: []byte{0xb8, 0, 0x80, 0, 0, 0xff, 0xe0},
			plant: map[uint64][]byte{0x8000: {0xf4}},
			rip:   0x8000, reason: []string{"SIGSEGV", "addr 0x8000"}},
		// An OUT whose 0x66 prefix is the last mapped byte before the guard
		// page: the fetch of its second byte faults.
		{name: "straddle", code: []byte{0xb8, 0xff, 0xff, 0xfe, 0, 0xff, 0xe0},
			plant: map[uint64][]byte{shared.StackGuardAddr - 1: {0x66, 0xef}},
			rip:   shared.StackGuardAddr - 1, reason: []string{"SIGSEGV", "addr 0xff0000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := runOp(t, tc.code)
			for a, b := range tc.plant {
				copy(v.Memory()[a:], b)
			}
			e, err := v.Run()
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind != vmm.ExitFault || e.RIP != tc.rip {
				t.Fatalf("exit %v at %#x (%s), want fault at %#x", e.Kind, e.RIP, e.Reason, tc.rip)
			}
			for _, want := range tc.reason {
				if !strings.Contains(e.Reason, want) {
					t.Errorf("reason %q lacks %q", e.Reason, want)
				}
			}
			// The fault is terminal: Run repeats it.
			if e2, err := v.Run(); err != nil || e2 != e {
				t.Errorf("Run after the fault: %+v, %v", e2, err)
			}
			if _, err := os.Stat("/proc/" + strconv.Itoa(childPid(v))); !os.IsNotExist(err) {
				t.Errorf("guest process still exists after a fault")
			}
		})
	}
}

// TestIO covers every OUT/IN form the decoder accepts, IN's all-ones
// answer, and resuming after HLT.
func TestIO(t *testing.T) {
	code := []byte{
		0xe4, 0x10, // in al, 0x10
		0xe6, 0x20, // out 0x20, al
		0x66, 0xba, 0x00, 0x07, // mov dx, 0x700
		0x66, 0xb8, 0x34, 0x12, // mov ax, 0x1234
		0x66, 0xef, // out dx, ax
		0xb8, 0x78, 0x56, 0x34, 0x12, // mov eax, 0x12345678
		0xe7, 0x30, // out 0x30, eax
		0xef,             // out dx, eax
		0xee,             // out dx, al
		0x66, 0xe7, 0x31, // out 0x31, ax
		0xed,       // in eax, dx
		0xef,       // out dx, eax: all ones
		0x66, 0xed, // in ax, dx
		0xec,       // in al, dx
		0xe5, 0x40, // in eax, 0x40
		0xf4,       // hlt
		0x0f, 0x0b, // ud2
	}
	at := func(i int) uint64 { return op + uint64(i) }
	want := []vmm.Exit{
		{Kind: vmm.ExitIO, RIP: at(0), Port: 0x10, Size: 1},
		{Kind: vmm.ExitIO, RIP: at(2), Port: 0x20, Size: 1, Out: true, Value: 0xff},
		{Kind: vmm.ExitIO, RIP: at(12), Port: 0x700, Size: 2, Out: true, Value: 0x1234},
		{Kind: vmm.ExitIO, RIP: at(19), Port: 0x30, Size: 4, Out: true, Value: 0x12345678},
		{Kind: vmm.ExitIO, RIP: at(21), Port: 0x700, Size: 4, Out: true, Value: 0x12345678},
		{Kind: vmm.ExitIO, RIP: at(22), Port: 0x700, Size: 1, Out: true, Value: 0x78},
		{Kind: vmm.ExitIO, RIP: at(23), Port: 0x31, Size: 2, Out: true, Value: 0x5678},
		{Kind: vmm.ExitIO, RIP: at(26), Port: 0x700, Size: 4},
		{Kind: vmm.ExitIO, RIP: at(27), Port: 0x700, Size: 4, Out: true, Value: 0xffffffff},
		{Kind: vmm.ExitIO, RIP: at(28), Port: 0x700, Size: 2},
		{Kind: vmm.ExitIO, RIP: at(30), Port: 0x700, Size: 1},
		{Kind: vmm.ExitIO, RIP: at(31), Port: 0x40, Size: 4},
		{Kind: vmm.ExitHalt, RIP: at(33)},
	}
	v := runOp(t, code)
	for i, w := range want {
		e, err := v.Run()
		if err != nil {
			t.Fatal(err)
		}
		if e != w {
			t.Fatalf("exit %d: %+v, want %+v", i, e, w)
		}
	}
	// Running again after HLT continues after it.
	e, err := v.Run()
	if err != nil || e.Kind != vmm.ExitFault || e.RIP != at(34) {
		t.Fatalf("after HLT: %+v, %v; want a fault at %#x", e, err, at(34))
	}
}

// TestConfinement checks the guest process while it is stopped at its first
// exit: guest RAM at the guest addresses, the guard page and VMM-private
// region unmapped, no file descriptors, no_new_privs and seccomp strict.
func TestConfinement(t *testing.T) {
	v := runOp(t, []byte{0xf4})
	if e, err := v.Run(); err != nil || e.Kind != vmm.ExitHalt {
		t.Fatalf("%+v, %v", e, err)
	}
	proc := "/proc/" + strconv.Itoa(childPid(v))
	status, err := os.ReadFile(proc + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Seccomp:\t1", "NoNewPrivs:\t1"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	if env, err := os.ReadFile(proc + "/environ"); err != nil || len(env) != 0 {
		t.Errorf("guest environment %q, %v; want empty", env, err)
	}
	fds, err := os.ReadDir(proc + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) != 0 {
		t.Errorf("guest process has %d open fds", len(fds))
	}
	maps, err := os.ReadFile(proc + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	var ram []string
	for _, l := range strings.Split(string(maps), "\n") {
		if strings.Contains(l, "instar-guest-ram") {
			ram = append(ram, strings.Fields(l)[0])
		}
	}
	want := []string{"00010000-00ff0000", "00ff1000-01000000"}
	if strings.Join(ram, " ") != strings.Join(want, " ") {
		t.Errorf("guest RAM mapped at %v, want %v\n%s", ram, want, maps)
	}
	limits, err := os.ReadFile(proc + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"Max open files", "Max processes", "Max core file size", "Max file size"} {
		if !strings.Contains(string(limits), l) {
			continue
		}
		for _, line := range strings.Split(string(limits), "\n") {
			if strings.HasPrefix(line, l) && len(strings.Fields(line[len(l):])) >= 2 &&
				strings.Fields(line[len(l):])[0] != "0" {
				t.Errorf("limit not zero: %s", line)
			}
		}
	}
}

// TestInterrupt interrupts a guest spinning in `jmp $` from another
// goroutine, and one stopped between exits.
func TestInterrupt(t *testing.T) {
	t.Run("running", func(t *testing.T) {
		v := runOp(t, []byte{0xeb, 0xfe})
		timer := time.AfterFunc(50*time.Millisecond, v.Interrupt)
		defer timer.Stop()
		start := time.Now()
		e, err := v.Run()
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != vmm.ExitInterrupted {
			t.Fatalf("exit %+v, want interrupted", e)
		}
		if d := time.Since(start); d < 50*time.Millisecond || d > 5*time.Second {
			t.Errorf("Run returned after %v", d)
		}
		v.Interrupt() // more than once is fine
		if e, err := v.Run(); err != nil || e.Kind != vmm.ExitInterrupted {
			t.Errorf("Run after the interrupt: %+v, %v", e, err)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		v := runOp(t, []byte{0xe6, 0x20, 0xeb, 0xfe}) // out 0x20, al; jmp $
		if e, err := v.Run(); err != nil || e.Kind != vmm.ExitIO {
			t.Fatalf("%+v, %v", e, err)
		}
		v.Interrupt()
		if e, err := v.Run(); err != nil || e.Kind != vmm.ExitInterrupted {
			t.Fatalf("%+v, %v; want interrupted", e, err)
		}
	})
}

// TestBadConfig checks that NewVM refuses layouts the stub cannot set up.
func TestBadConfig(t *testing.T) {
	runtime.LockOSThread() // the thread rule; the test's thread retires with it
	base := testConfig()
	for name, mod := range map[string]func(*vmm.VMConfig){
		"ram unaligned":   func(c *vmm.VMConfig) { c.RAMSize += 4096 },
		"ram zero":        func(c *vmm.VMConfig) { c.RAMSize = 0 },
		"entry private":   func(c *vmm.VMConfig) { c.Entry = 0x1000 },
		"entry past RAM":  func(c *vmm.VMConfig) { c.Entry = c.RAMSize },
		"entry in guard":  func(c *vmm.VMConfig) { c.Entry = shared.StackGuardAddr },
		"stack past RAM":  func(c *vmm.VMConfig) { c.StackTop = c.RAMSize + 16 },
		"range unaligned": func(c *vmm.VMConfig) { c.Unmapped = []vmm.Range{{Start: 0x20001, End: 0x21000}} },
		"range empty":     func(c *vmm.VMConfig) { c.Unmapped = []vmm.Range{{Start: 0x21000, End: 0x21000}} },
		"range past RAM":  func(c *vmm.VMConfig) { c.Unmapped = []vmm.Range{{Start: 0x21000, End: c.RAMSize + 4096}} },
		"too many ranges": func(c *vmm.VMConfig) { c.Unmapped = make([]vmm.Range, maxRanges+1) },
	} {
		cfg := base
		cfg.Unmapped = append([]vmm.Range(nil), base.Unmapped...)
		mod(&cfg)
		if v, err := New().NewVM(cfg); err == nil {
			v.Close()
			t.Errorf("%s: NewVM accepted %+v", name, cfg)
		}
	}
}

// TestStubFailure makes the stub itself refuse its arguments (NewVM checks
// them first, so the tracer is driven directly) and checks that the error
// names the step and that the stub is reaped.
func TestStubFailure(t *testing.T) {
	stub, err := loadStubOnce()
	if err != nil {
		t.Fatal(err)
	}
	v := &vm{cfg: testConfig(), done: make(chan struct{})}
	if err := v.makeRAM(); err != nil {
		t.Fatal(err)
	}
	defer v.release()
	v.cfg.Entry = v.cfg.RAMSize // the stub's own check must catch it
	runtime.LockOSThread()
	tr := &tracer{v: v}
	err = tr.start(stub)
	cpupin.Restore(tr.pinned)
	if err == nil || !strings.Contains(err.Error(), "inconsistent") {
		t.Fatalf("stub start: %v, want its config check to fail", err)
	}
	assertGone(t, v.pid)
}
