//go:build cgo

package format

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// memFiles is an OutputSink holding each output in memory, recording the
// writes it gets; it fails the failAt-th write (1-based) when failAt > 0.
type memFiles struct {
	files  map[uint32][]byte
	writes []GatherWrite
	failAt int
}

func (m *memFiles) WriteAt(output uint32, p []byte, off int64) error {
	m.writes = append(m.writes, GatherWrite{output, uint64(off), append([]byte(nil), p...)})
	if len(m.writes) == m.failAt {
		return errors.New("refused")
	}
	if len(p) == 0 {
		return nil // as pwrite: an empty write does not extend a file
	}
	if m.files == nil {
		m.files = map[uint32][]byte{}
	}
	f := m.files[output]
	if end := int(off) + len(p); end > len(f) {
		f = append(f, make([]byte, end-len(f))...)
	}
	copy(f[off:], p)
	m.files[output] = f
	return nil
}

func direct(writes []GatherWrite) *memFiles {
	m := &memFiles{}
	for _, w := range writes {
		m.WriteAt(w.Output, w.Data, int64(w.Off))
	}
	return m
}

func piece(output uint32, off uint64, n int, fill byte) GatherWrite {
	return GatherWrite{output, off, bytes.Repeat([]byte{fill}, n)}
}

// TestGatherPatterns checks the runs the planners' writes make.
func TestGatherPatterns(t *testing.T) {
	const capacity = 32 << 10
	for _, c := range []struct {
		name    string
		maxRuns int
		writes  []GatherWrite
		want    int // writes that reach the next sink
		lists   int // lists (exits) that carry them
	}{
		{"vpc footer, header, BAT, footer", 1, []GatherWrite{piece(0, 0, 1536, 1), piece(0, 1536, 20992, 2), piece(0, 22528, 512, 3)}, 1, 1},
		{"vmdk descriptor then header", 1, []GatherWrite{piece(0, 512, 341, 1), piece(0, 0, 512, 2), piece(0, 10752, 1536, 3), piece(0, 667648, 1536, 4)}, 3, 3},
		{"larger than the buffer", 1, []GatherWrite{piece(0, 65536, 65536, 1), piece(0, 131072, 65536, 2), piece(0, 196608, 160, 3), piece(0, 0, 65536, 4)}, 4, 4},
		{"a run that outgrows the buffer", 1, []GatherWrite{piece(0, 0, 20000, 1), piece(0, 20000, 20000, 2)}, 2, 2},
		{"another output", 1, []GatherWrite{piece(0, 0, 512, 1), piece(1, 512, 512, 2)}, 2, 2},
		{"overlapping", 1, []GatherWrite{piece(0, 0, 512, 1), piece(0, 256, 512, 2)}, 2, 2},
		{"qcow2 L2 tables a cluster apart", 8, []GatherWrite{piece(0, 4096, 4096, 1), piece(0, 12288, 4096, 2), piece(0, 20480, 4096, 3), piece(0, 28672, 4096, 4)}, 4, 1},
		{"runs joined in a list", 8, []GatherWrite{piece(0, 0, 512, 1), piece(0, 512, 512, 2), piece(0, 8192, 512, 3), piece(0, 7680, 512, 4)}, 2, 1},
		{"the list is full", 2, []GatherWrite{piece(0, 0, 512, 1), piece(0, 4096, 512, 2), piece(0, 8192, 512, 3)}, 3, 2},
		{"the staging is full", 8, []GatherWrite{piece(0, 0, 20000, 1), piece(0, 40000, 20000, 2)}, 2, 2},
		{"larger than the buffer after runs", 8, []GatherWrite{piece(0, 0, 512, 1), piece(1, 0, 512, 2), piece(0, 65536, 40000, 3)}, 3, 2},
		{"overlapping runs keep their order", 8, []GatherWrite{piece(0, 0, 1024, 1), piece(0, 4096, 512, 2), piece(0, 512, 1024, 3)}, 3, 1},
		{"empty", 1, []GatherWrite{piece(0, 0, 512, 1), piece(0, 9, 0, 2), piece(0, 512, 512, 3)}, 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := &memFiles{}
			statuses, flush, lists := Gather(capacity, c.maxRuns, c.writes, got)
			for i, s := range statuses {
				if s != 0 {
					t.Fatalf("write %d returned %d", i, s)
				}
			}
			if flush != 0 {
				t.Fatalf("flush returned %d", flush)
			}
			if len(got.writes) != c.want || lists != c.lists {
				t.Errorf("%d writes in %d lists reached the sink, want %d in %d", len(got.writes), lists, c.want, c.lists)
			}
			want := direct(c.writes)
			for o, f := range want.files {
				if !bytes.Equal(got.files[o], f) {
					t.Errorf("output %d differs from writing directly", o)
				}
			}
		})
	}
}

// TestGatherRandom writes random sequences (runs forwards and backwards,
// overlaps, other outputs, sizes up to past the buffer) and wants the same
// files as writing directly, with no more writes.
func TestGatherRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 2000; i++ {
		capacity := 1 + r.IntN(8192)
		maxRuns := 1 + r.IntN(6)
		var writes []GatherWrite
		off := uint64(r.IntN(4096))
		for n := r.IntN(12); n > 0; n-- {
			size := r.IntN(capacity * 3 / 2)
			switch r.IntN(5) {
			case 0, 1: // next in a forward run
			case 2: // before the previous write
				off -= min(off, uint64(size))
			default:
				off = uint64(r.IntN(16384))
			}
			data := make([]byte, size)
			for j := range data {
				data[j] = byte(r.Uint32())
			}
			writes = append(writes, GatherWrite{uint32(r.IntN(2)), off, data})
			off += uint64(size)
		}
		got := &memFiles{}
		_, flush, lists := Gather(capacity, maxRuns, writes, got)
		want := direct(writes)
		if flush != 0 || len(got.writes) > len(writes) || lists > len(got.writes) {
			t.Fatalf("case %d: flush %d, %d writes in %d lists for %d", i, flush, len(got.writes), lists, len(writes))
		}
		for o := uint32(0); o < 2; o++ {
			if !bytes.Equal(got.files[o], want.files[o]) {
				t.Fatalf("case %d: output %d differs from writing directly", i, o)
			}
		}
	}
}

// TestGatherFailure: a failure of the next sink is returned by the write
// that flushed, every later write and the flush, and nothing more is
// written.
func TestGatherFailure(t *testing.T) {
	sink := &memFiles{failAt: 1}
	writes := []GatherWrite{piece(0, 0, 512, 1), piece(0, 4096, 512, 2), piece(0, 8192, 512, 3)}
	statuses, flush, _ := Gather(1024, 1, writes, sink)
	if statuses[0] != 0 || statuses[1] == 0 || statuses[2] == 0 || flush == 0 {
		t.Errorf("statuses %v, flush %d: want 0, then failures", statuses, flush)
	}
	if len(sink.writes) != 1 {
		t.Errorf("%d writes reached the sink after it failed", len(sink.writes))
	}
}
