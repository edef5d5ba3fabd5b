package vmm_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"instar/embed"
	"instar/shared"
	"instar/vmm"
	"instar/vmm/accel"
	"instar/vmm/selftest"
)

// One test table, two accelerators: plain `go test` runs it under process;
// `mage vmtest` runs the same test binary with -accel kvm inside a VM whose
// CPU has virtualization.
var accelFlag = flag.String("accel", "process", "accelerator to test: process or kvm")

// guestDirFlag holds the test-only guest binaries that `mage guest` builds.
var guestDirFlag = flag.String("guestdir", filepath.Join("..", "build", "guest"), "directory of the test guest binaries")

func accelerator(t *testing.T) vmm.Accelerator {
	t.Helper()
	acc, err := accel.Get(*accelFlag)
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.Available(); err != nil {
		t.Fatalf("accelerator %s is not usable here: %v", acc.Name(), err)
	}
	return acc
}

func testGuest(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(*guestDirFlag, "test-"+name+".bin"))
	if err != nil {
		t.Fatalf("test guest %s: %v (run `go run mage.go guest`)", name, err)
	}
	return data
}

func TestSelftest(t *testing.T) {
	res, err := selftest.Run(accelerator(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d exits; setup %v, run %v, teardown %v", *accelFlag, res.Exits, res.Setup, res.Run, res.Teardown)
}

// TestHostileGuests runs each misbehaving guest and checks it is stopped for
// the right reason.
func TestHostileGuests(t *testing.T) {
	acc := accelerator(t)
	core, _, err := embed.Guest("selftest")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		guest  string
		reason vmm.StopReason
		detail string
	}{
		// Only spin should meet the deadline; the others must be stopped
		// for their own reason long before it.
		{"spin", vmm.StopDeadline, "still running"},
		{"flood", vmm.StopExitBudget, "exits"},
		{"fault", vmm.StopFault, ""},
		{"private", vmm.StopFault, ""},
		{"bigmsg", vmm.StopBadMessage, "8193 bytes"},
		{"garbage", vmm.StopBadMessage, "do not decode"},
		{"badport", vmm.StopBadRequest, "port 0x80"},
		{"baddesc", vmm.StopBadRequest, "outside guest RAM"},
		{"early", vmm.StopHaltedEarly, "early: giving up"},
	}
	for _, c := range cases {
		t.Run(c.guest, func(t *testing.T) {
			fds := openFDs(t)
			start := time.Now()
			_, err := run(acc, core, testGuest(t, c.guest), vmm.Config{
				Deadline: deadline(c.reason), ExitBudget: 200,
			})
			if !vmm.IsStop(err, c.reason) {
				t.Fatalf("Run = %v; want a stop for %q", err, c.reason)
			}
			if !strings.Contains(err.Error(), c.detail) || !strings.Contains(err.Error(), "RIP 0x") {
				t.Errorf("error %q does not say %q and where", err, c.detail)
			}
			if time.Since(start) > 30*time.Second {
				t.Errorf("took %v to stop", time.Since(start))
			}
			if kids := children(t); len(kids) > 0 {
				t.Errorf("processes left behind: %v", kids)
			}
			if now := openFDs(t); now != fds {
				t.Errorf("%d file descriptors open before the run, %d after", fds, now)
			}
		})
	}
}

// openFDs counts this process's open file descriptors: a guest run must
// release every one it opened (VM, vCPU, memfds), on every path.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// children lists this process's child processes, live or zombie: a guest
// run must leave none.
func children(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, e := range ents {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(os.Getpid()) {
			kids = append(kids, e.Name()+" "+s[:strings.LastIndexByte(s, ')')+1])
		}
	}
	return kids
}

func deadline(r vmm.StopReason) time.Duration {
	if r == vmm.StopDeadline {
		return 300 * time.Millisecond
	}
	return 60 * time.Second
}

// TestOutOfRangeRequests checks that every out-of-bounds request gets the
// right status and that nothing outside the device limits is touched.
func TestOutOfRangeRequests(t *testing.T) {
	acc := accelerator(t)
	core, _, err := embed.Guest("selftest")
	if err != nil {
		t.Fatal(err)
	}
	const inSize, outLimit = 8192, 16384
	in := &selftest.Image{Data: bytes.Repeat([]byte{0x11}, inSize)}
	// The output file is larger than the limit the guest gets: the part
	// past the limit must stay as it was.
	out := &selftest.Image{Data: bytes.Repeat([]byte{0x22}, outLimit+8192)}
	res, err := run(acc, core, testGuest(t, "outofrange"), vmm.Config{
		Inputs:  []vmm.Input{{R: in, Size: inSize, SectorSize: 512}},
		Outputs: []vmm.Output{{W: out, Limit: outLimit, SectorSize: 512}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("read-past-end=%d", shared.StatusOutOfRange),
		fmt.Sprintf("read-offset-wraps=%d", shared.StatusOutOfRange),
		fmt.Sprintf("read-no-device=%d", shared.StatusBadRequest),
		fmt.Sprintf("read-into-page-tables=%d", shared.StatusBadBuffer),
		fmt.Sprintf("read-past-ram=%d", shared.StatusBadBuffer),
		fmt.Sprintf("read-too-long=%d", shared.StatusBadRequest),
		fmt.Sprintf("head-read-into-page-tables=%d", shared.StatusBadBuffer),
		fmt.Sprintf("head-read-past-ram=%d", shared.StatusBadBuffer),
		fmt.Sprintf("write-past-limit=%d", shared.StatusOutOfRange),
		fmt.Sprintf("write-empty-at-limit=%d", shared.StatusOK),
		fmt.Sprintf("write-no-device=%d", shared.StatusBadRequest),
		fmt.Sprintf("unknown-op=%d", shared.StatusBadRequest),
		fmt.Sprintf("write-last-page=%d", shared.StatusOK),
	}
	if strings.Join(res.Logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("statuses:\n%s\nwant:\n%s", strings.Join(res.Logs, "\n"), strings.Join(want, "\n"))
	}
	if !bytes.Equal(in.Data, bytes.Repeat([]byte{0x11}, inSize)) {
		t.Error("the input device was modified")
	}
	// Only the last page below the limit was written (with 0xEE).
	wantOut := bytes.Repeat([]byte{0x22}, outLimit+8192)
	copy(wantOut[outLimit-4096:outLimit], bytes.Repeat([]byte{0xEE}, 4096))
	if !bytes.Equal(out.Data, wantOut) {
		t.Error("the output device was written outside the one allowed page")
	}
}

// countingReader counts its reads and serves only the first good bytes of
// data: past them it fails, as a file that shrank or a failing disk does.
type countingReader struct {
	data  []byte
	good  int
	reads int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	if off < 0 || off >= int64(c.good) {
		return 0, errors.New("read failed")
	}
	n := copy(p, c.data[off:c.good])
	if n < len(p) {
		return n, errors.New("read failed")
	}
	return n, nil
}

// TestInputHead checks input 0's head: the VMM copies its first bytes into
// guest RAM once, reads within them need no request, and a head the host
// could read only in part, or not at all, leaves the rest to requests,
// which report the failure.
func TestInputHead(t *testing.T) {
	acc := accelerator(t)
	core, op, err := embed.Guest("selftest")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, selftest.Size)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	for _, tc := range []struct {
		name      string
		good      int
		reads     int  // the host's reads of the input, the head's included
		succeeded bool // the guest read the whole input
	}{
		{"whole input in the head", len(data), 1, true},
		{"head read in part", 1000, 2, false},
		{"head unreadable", 0, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &countingReader{data: data, good: tc.good}
			out := &selftest.Image{Data: make([]byte, len(data))}
			res, err := run(acc, core, op, vmm.Config{
				Inputs:  []vmm.Input{{R: in, Size: uint64(len(data)), SectorSize: selftest.SectorSize}},
				Outputs: []vmm.Output{{W: out, Limit: uint64(len(data)), SectorSize: selftest.SectorSize}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if in.reads != tc.reads || res.Complete.GetSuccess() != tc.succeeded {
				t.Fatalf("%d host reads, success %v (%v); want %d, %v", in.reads, res.Complete.GetSuccess(), res.Errors, tc.reads, tc.succeeded)
			}
			if !tc.succeeded {
				return
			}
			want := bytes.Clone(data)
			for i := range want {
				want[i] ^= selftest.XOR
			}
			if !bytes.Equal(out.Data, want) {
				t.Error("the guest read other bytes than the input's")
			}
		})
	}
}

// TestMessageLists checks ReqMessages: a good list is handled in order in
// one exit, and each malformed one (a message after the completion, a
// length that runs past the list, none, zero, a list too long, an entry
// that does not decode) stops the guest.
func TestMessageLists(t *testing.T) {
	acc := accelerator(t)
	core, _, err := embed.Guest("selftest")
	if err != nil {
		t.Fatal(err)
	}
	guest := testGuest(t, "badmsgs")
	for _, tc := range []struct {
		which  byte
		detail string // "": the list is good
	}{
		{0, ""},
		{1, "follows the completion"},
		{2, "a message of 100 bytes"},
		{3, "a message of 0 bytes"},
		{4, "are no length"},
		{5, "lists are 1 to"},
		{6, "do not decode"},
	} {
		t.Run(fmt.Sprint(tc.which), func(t *testing.T) {
			res, err := run(acc, core, guest, vmm.Config{OperationConfig: []byte{tc.which}, ExitBudget: 50})
			if tc.detail == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Exits != 1 || strings.Join(res.Logs, ",") != "a,b" || !res.Complete.GetSuccess() || res.Complete.GetOperation() != "x" {
					t.Fatalf("%d exits, logs %q, completion %v; want 1 exit, a,b and x's success", res.Exits, res.Logs, res.Complete)
				}
				return
			}
			if !vmm.IsStop(err, vmm.StopBadMessage) || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("Run = %v; want a bad-message stop saying %q", err, tc.detail)
			}
		})
	}
}

// TestBatchRequests checks ReqBatch against good and hostile batches: a
// batch with one bad entry anywhere makes none of its writes and says
// which entry was refused, a bad batch descriptor is refused whole, and a
// good batch makes every write, in order, before any status is written.
func TestBatchRequests(t *testing.T) {
	acc := accelerator(t)
	core, _, err := embed.Guest("selftest")
	if err != nil {
		t.Fatal(err)
	}
	const outLimit = 16384
	out := &selftest.Image{Data: bytes.Repeat([]byte{0x22}, outLimit+8192)}
	res, err := run(acc, core, testGuest(t, "badbatch"), vmm.Config{
		Outputs: []vmm.Output{{W: out, Limit: outLimit, SectorSize: 512}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ok, bad, rng, buf, skip, pending := shared.StatusOK, shared.StatusBadRequest, shared.StatusOutOfRange,
		shared.StatusBadBuffer, shared.StatusSkipped, shared.StatusPending
	line := func(name string, st ...int) string {
		s := name + "="
		for i, v := range st {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprint(v)
		}
		return s
	}
	want := []string{
		line("good", ok, ok, ok, ok),
		line("bad-middle", rng, skip, rng, skip),
		line("bad-entries", rng, skip, rng, buf, buf, bad, bad),
		line("bad-ops", bad, skip, bad, bad, bad),
		line("too-many", bad, pending),
		line("count-wraps", bad, pending),
		line("empty", bad, pending),
		line("too-many-bytes", bad, skip),
		line("too-many-bytes-last", bad),
		line("garbage", bad, bad, bad, bad, bad),
		line("array-in-private", buf),
		line("array-past-ram", buf),
		line("array-unaligned", buf),
		line("batch-device", bad),
		line("writes-itself", ok, ok, ok),
	}
	if strings.Join(res.Logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("statuses:\n%s\nwant:\n%s", strings.Join(res.Logs, "\n"), strings.Join(want, "\n"))
	}
	wantOut := bytes.Repeat([]byte{0x22}, outLimit+8192)
	for _, r := range [][2]int{{0, 512}, {4096, 5120}, {outLimit - 512, outLimit}} {
		copy(wantOut[r[0]:r[1]], bytes.Repeat([]byte{0xEE}, r[1]-r[0]))
	}
	// The entry array as the guest wrote it: statuses still pending.
	entries := []shared.Request{
		{Op: shared.ReqWrite, Offset: 8192, Length: 80, Buffer: shared.ScratchMemBase + 0x10000, Status: shared.StatusPending},
		{Op: shared.ReqWrite, Offset: 4608, Length: 512, Buffer: shared.ScratchMemBase, Status: shared.StatusPending},
	}
	for i, e := range entries {
		b := wantOut[8192+40*i:]
		le := binary.LittleEndian
		le.PutUint32(b[0:], e.Op)
		le.PutUint32(b[4:], e.Device)
		le.PutUint64(b[8:], e.Offset)
		le.PutUint64(b[16:], e.Length)
		le.PutUint64(b[24:], e.Buffer)
		le.PutUint32(b[32:], uint32(e.Status))
		le.PutUint32(b[36:], 0)
	}
	if bytes.IndexByte(out.Data, 0x77) >= 0 {
		t.Error("a write of a refused batch was made")
	}
	if !bytes.Equal(out.Data, wantOut) {
		for i := range out.Data {
			if out.Data[i] != wantOut[i] {
				t.Errorf("the output differs first at byte %d: %#x, want %#x", i, out.Data[i], wantOut[i])
				break
			}
		}
	}
}

// TestGuestLifecycle checks that a started guest is released whether or
// not it runs, and that it runs once.
func TestGuestLifecycle(t *testing.T) {
	acc := accelerator(t)
	core, op, err := embed.Guest("selftest")
	if err != nil {
		t.Fatal(err)
	}
	images := func() ([]byte, []byte, error) { return core, op, nil }
	before := len(children(t))
	fds := openFDs(t)

	unused := vmm.Start(acc, images)
	unused.Close()
	unused.Close()
	if n := len(children(t)); n != before {
		t.Errorf("%d child processes after closing an unused guest, want %d", n, before)
	}
	if _, err := unused.Run(vmm.Config{}); err == nil {
		t.Error("Run after Close succeeded")
	}

	g := vmm.Start(acc, images)
	cfg := vmm.Config{
		Inputs:  []vmm.Input{{R: &selftest.Image{Data: make([]byte, 4096)}, Size: 4096, SectorSize: 512}},
		Outputs: []vmm.Output{{W: &selftest.Image{Data: make([]byte, 4096)}, Limit: 4096, SectorSize: 512}},
	}
	res, err := g.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Complete == nil {
		t.Error("no completion message")
	}
	if _, err := g.Run(cfg); err == nil || !strings.Contains(err.Error(), "only once") {
		t.Errorf("second Run: %v, want a refusal", err)
	}
	g.Close()
	if n := len(children(t)); n != before {
		t.Errorf("%d child processes after Close, want %d", n, before)
	}
	if n := openFDs(t); n != fds {
		t.Errorf("%d open fds after Close, want %d", n, fds)
	}
}

// failingWriter fails every write, as a full disk does.
type failingWriter struct{}

func (failingWriter) WriteAt([]byte, int64) (int, error) {
	return 0, errors.New("no space left on device")
}

// TestWriteFailureEndsTheRun: a write the host cannot make (a full disk)
// is not the guest's doing and the run cannot succeed: it ends the run
// with the host's error.
func TestWriteFailureEndsTheRun(t *testing.T) {
	acc := accelerator(t)
	core, op, err := embed.Guest("selftest")
	if err != nil {
		t.Fatal(err)
	}
	_, err = run(acc, core, op, vmm.Config{
		Inputs:  []vmm.Input{{R: &selftest.Image{Data: make([]byte, 4096)}, Size: 4096, SectorSize: 512}},
		Outputs: []vmm.Output{{W: failingWriter{}, Limit: 4096, SectorSize: 512}},
	})
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "output 0") {
		t.Fatalf("Run = %v, want the write failure", err)
	}
}

// run runs core and op to completion on acc with cfg, and releases the VM.
func run(acc vmm.Accelerator, core, op []byte, cfg vmm.Config) (*vmm.Result, error) {
	g := vmm.Start(acc, func() ([]byte, []byte, error) { return core, op, nil })
	defer g.Close()
	return g.Run(cfg)
}

// brokenAccel is an accelerator whose VMs never come up; its NewVM returns
// a nil *brokenVM in a non-nil interface, as a careless one could.
type brokenAccel struct{}

type brokenVM struct{ vmm.VM }

func (brokenAccel) Name() string     { return "broken" }
func (brokenAccel) Available() error { return nil }
func (brokenAccel) NewVM(vmm.VMConfig) (vmm.VM, error) {
	var v *brokenVM
	return v, errors.New("no VM today")
}

// TestNewVMFailure: a VM that cannot be created is an error from Run, never
// a panic, and Close is not called on what NewVM returned with its error.
func TestNewVMFailure(t *testing.T) {
	core, op, err := embed.Guest("selftest")
	if err != nil {
		t.Fatal(err)
	}
	_, err = run(brokenAccel{}, core, op, vmm.Config{})
	if err == nil || !strings.Contains(err.Error(), "create broken VM: no VM today") {
		t.Fatalf("Run = %v, want the NewVM error", err)
	}
}

// TestMessageFloodBounded runs a guest that sends 20,000 error and 20,000
// log messages of 1 KiB (core's cap) and then completes: the VMM keeps a
// few of each, counts the rest, and its heap does not grow with them
// (keeping them all would take about 40 MiB).
func TestMessageFloodBounded(t *testing.T) {
	acc := accelerator(t)
	core, _, err := embed.Guest("selftest")
	if err != nil {
		t.Fatal(err)
	}
	op := testGuest(t, "msgflood")
	const sent = 20000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := run(acc, core, op, vmm.Config{ExitBudget: 2*sent + 100})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d exits; heap %d -> %d bytes (%+d) with the result held", res.Exits, before.HeapAlloc, after.HeapAlloc, growth)
	if len(res.Errors) != vmm.KeptMessages || res.ErrorsDropped != sent-vmm.KeptMessages ||
		len(res.Logs) != vmm.KeptMessages || res.LogsDropped != sent-vmm.KeptMessages {
		t.Errorf("kept %d errors (%d dropped), %d logs (%d dropped)", len(res.Errors), res.ErrorsDropped, len(res.Logs), res.LogsDropped)
	}
	if last := res.Errors[len(res.Errors)-1]; last.Code != sent-1 {
		t.Errorf("the last error kept has code %d, want %d", last.Code, sent-1)
	}
	if growth > 2<<20 {
		t.Errorf("the heap grew by %d bytes holding one run's result", growth)
	}
	runtime.KeepAlive(res)
}
