package imgcreate

import (
	"instar/shared/formats"
	"testing"

	"instar/shared"
	"instar/vmm"
)

// TestLocalName: protocol prefixes as qemu-img reads them.
func TestLocalName(t *testing.T) {
	for _, c := range []struct {
		in, path, err string
		device        bool
	}{
		{in: "img", path: "img"},
		{in: "file:img", path: "img"},
		{in: "file:file:img", path: "file:img"},
		{in: "file:", path: ""},
		{in: "./a:b", path: "./a:b"},
		{in: "dir/a:b", path: "dir/a:b"},
		{in: "/abs/a:b", path: "/abs/a:b"},
		{in: "host_device:/dev/sda", path: "/dev/sda", device: true},
		{in: "nbd:localhost:10809", err: "Protocol driver 'nbd' does not support image creation"},
		{in: "nbd+unix:///x", err: "Protocol driver 'nbd+unix' does not support image creation"},
		{in: "http://h/x", err: "Protocol driver 'http' does not support image creation"},
		{in: `json:{"driver":"file"}`, err: "Unknown protocol 'json'"},
		{in: "File:x", err: "Unknown protocol 'File'"},
		{in: "a:b", err: "Unknown protocol 'a'"},
	} {
		path, device, err := localName(c.in)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.err || path != c.path || device != c.device {
			t.Errorf("localName(%q) = %q, %v, %q; want %q, %v, %q", c.in, path, device, got, c.path, c.device, c.err)
		}
	}
}

// TestInferredSize: a backing file's size rounds as qemu rounds it, and
// a guest's word beyond the format's limit, or at odds with a raw file's
// length, is refused.
func TestInferredSize(t *testing.T) {
	for _, c := range []struct {
		format     string
		got, file  uint64
		want       uint64
		shouldFail bool
	}{
		{format: "qcow2", got: 1000000, want: 999936},
		{format: "qcow2", got: 1 << 30, want: 1 << 30},
		{format: "vhdx", got: 1000, want: 512},
		{format: "vhdx", got: 128 << 40, want: 128 << 40}, // qemu opens what it would not create
		{format: "raw", got: 1001, file: 1001, want: 1024},
		{format: "raw", got: 1 << 40, file: 1001, shouldFail: true},
		{format: "vpc", got: 0xff000000*512 + 512, shouldFail: true},
		{format: "qcow2", got: 1 << 63, shouldFail: true},
		{format: "nonesuch", got: 512, shouldFail: true},
	} {
		got, err := checkInferredSize(c.format, c.got, c.file)
		if (err != nil) != c.shouldFail || !c.shouldFail && got != c.want {
			t.Errorf("checkInferredSize(%s, %d, %d) = %d, %v; want %d (fail %v)", c.format, c.got, c.file, got, err, c.want, c.shouldFail)
		}
	}
	for _, c := range []struct {
		format     string
		asked, got uint64
		ok         bool
	}{
		{"qcow2", 1000, 1024, true},
		{"qcow2", 1000, 1536, false},
		{"qcow2", 1 << 30, 1<<30 + 1, false},
		{"vpc", 1000 << 20, 1048707072, true},
		{"vpc", 1 << 30, 1 << 40, false},
		{"vhdx", 128 << 40, 128 << 40, false},
	} {
		f, _ := formats.Named(c.format)
		if err := checkResultSize(f, c.asked, c.got); (err == nil) != c.ok {
			t.Errorf("checkResultSize(%s, %d, %d) = %v; want ok %v", c.format, c.asked, c.got, err, c.ok)
		}
	}
}

// TestExitBudget: the budget grows with preallocated metadata, enough for
// the densest (512-byte clusters, about 41,000 exits per GiB), and stays
// the VMM's default otherwise, so a guest that loops is still stopped.
func TestExitBudget(t *testing.T) {
	for _, c := range []struct {
		prealloc uint8
		size     uint64
		atLeast  int
		atMost   int
	}{
		{shared.PreallocOff, 1 << 50, vmm.DefaultExitBudget, vmm.DefaultExitBudget},
		{shared.PreallocMetadata, 100 << 30, 41000 * 100 * 3 / 2, 10 << 20},
		{shared.PreallocFull, 1 << 40, 41000 * 1024, 1 << 31},
	} {
		got := exitBudget(&shared.CreateConfig{Preallocation: c.prealloc, VirtualSize: c.size})
		if got < c.atLeast || got > c.atMost {
			t.Errorf("exitBudget(prealloc %d, %d) = %d; want %d to %d", c.prealloc, c.size, got, c.atLeast, c.atMost)
		}
	}
}
