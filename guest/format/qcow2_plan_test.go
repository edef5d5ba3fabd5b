//go:build cgo

package format

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"instar/shared"
)

// pageSink keeps a sparse image in memory: 4 KiB pages, the ones written.
type pageSink struct {
	pages map[int64][]byte
	n     int
	fail  int // fail the fail-th write (1-based); 0: never
}

func (s *pageSink) WriteAt(output uint32, p []byte, off int64) error {
	s.n++
	if s.fail != 0 && s.n == s.fail {
		return errors.New("injected write failure")
	}
	if output != 0 {
		return fmt.Errorf("output %d", output)
	}
	for len(p) > 0 {
		pg := off &^ 4095
		b := s.pages[pg]
		if b == nil {
			b = make([]byte, 4096)
			s.pages[pg] = b
		}
		k := copy(b[off-pg:], p)
		p, off = p[k:], off+int64(k)
	}
	return nil
}

func samePages(a, b *pageSink) error {
	if len(a.pages) != len(b.pages) {
		return fmt.Errorf("%d pages written vs %d", len(a.pages), len(b.pages))
	}
	for k, v := range a.pages {
		if !bytes.Equal(v, b.pages[k]) {
			return fmt.Errorf("page %#x differs", k)
		}
	}
	return nil
}

// The output does not depend on how much scratch the planner gets: with
// the minimum it needs several passes over refcount-table windows.
func TestQcow2ScratchIndependent(t *testing.T) {
	for _, c := range []q2Case{
		{size: gib, cluster: 512, refbits: 64, prealloc: "metadata"},
		{size: 256 * mib, cluster: 512, refbits: 64, prealloc: "falloc"},
		{size: 128 * gib, cluster: 512, refbits: 64},
		{size: 100 * gib, cluster: 2 << 20, prealloc: "metadata"},
		{size: 10*gib + 1536, cluster: 4096, refbits: 1, prealloc: "metadata"},
	} {
		t.Run(c.name(), func(t *testing.T) {
			t.Parallel()
			var infos []PlanInfo
			var sinks []*pageSink
			for _, scr := range []int{MinScratch(shared.FormatQcow2), scratchDefault, 64 << 20} {
				s := &pageSink{pages: map[int64][]byte{}}
				info, code, err := Plan(c.config(), uint64(c.size), scr, s, nil)
				if code != shared.CreateErrOK || err != nil {
					t.Fatalf("scratch %d: code %d, %v", scr, code, err)
				}
				infos, sinks = append(infos, info), append(sinks, s)
			}
			for i := 1; i < len(sinks); i++ {
				if err := samePages(sinks[0], sinks[i]); err != nil {
					t.Errorf("scratch run %d: %v", i, err)
				}
				if infos[i].FileSize[0] != infos[0].FileSize[0] || infos[i].PreallocStart != infos[0].PreallocStart ||
					infos[i].PreallocEnd != infos[0].PreallocEnd {
					t.Errorf("scratch run %d: %+v vs %+v", i, infos[i], infos[0])
				}
			}
		})
	}
}

// Every write failure stops the plan with CREATE_ERR_WRITE_FAILED, at any
// point of any pass.
func TestQcow2WriteFailure(t *testing.T) {
	c := q2Case{size: 20*mib + 1536, cluster: 512, refbits: 64, prealloc: "metadata"}
	s := &pageSink{pages: map[int64][]byte{}}
	if _, code, err := Plan(c.config(), uint64(c.size), MinScratch(shared.FormatQcow2), s, nil); code != 0 || err != nil {
		t.Fatal(code, err)
	}
	total := s.n
	for i := 1; i <= total; i += max(1, total/97) {
		f := &pageSink{pages: map[int64][]byte{}, fail: i}
		_, code, _ := Plan(c.config(), uint64(c.size), MinScratch(shared.FormatQcow2), f, nil)
		if code != shared.CreateErrWriteFailed || f.n != i {
			t.Fatalf("failing write %d of %d: code %d after %d writes", i, total, code, f.n)
		}
	}
}

func TestQcow2Scratch(t *testing.T) {
	c := q2Case{size: gib}
	s := &pageSink{pages: map[int64][]byte{}}
	if _, code, _ := Plan(c.config(), uint64(c.size), MinScratch(shared.FormatQcow2)-1, s, nil); code != shared.CreateErrScratchTooSmall || s.n != 0 {
		t.Fatalf("code %d after %d writes", code, s.n)
	}
	if _, code, _ := Plan(c.config(), uint64(c.size), 0, s, nil); code != shared.CreateErrScratchTooSmall {
		t.Fatalf("no scratch: code %d", code)
	}
}

// Options the host cannot express on the command line but a config can
// hold are refused too.
func TestQcow2BadConfig(t *testing.T) {
	for name, mod := range map[string]func(*shared.CreateConfig){
		"prealloc 4":         func(c *shared.CreateConfig) { c.Preallocation = 4 },
		"backing fmt alone":  func(c *shared.CreateConfig) { c.BackingFormat = shared.FormatRaw },
		"backing fmt 9":      func(c *shared.CreateConfig) { c.BackingFileLen = 1; c.BackingFile[0] = 'a'; c.BackingFormat = 9 },
		"backing with NUL":   func(c *shared.CreateConfig) { c.BackingFileLen = 3; c.BackingFile[0] = 'a' },
		"backing len 1025":   func(c *shared.CreateConfig) { c.BackingFileLen = 1025 },
		"cluster 0x80000001": func(c *shared.CreateConfig) { c.Qcow2ClusterSize = 0x80000001 },
		// qemu-img refuses both; 0 is not "the default".
		"cluster 0":       func(c *shared.CreateConfig) { c.Qcow2ClusterSize = 0 },
		"refcount bits 0": func(c *shared.CreateConfig) { c.Qcow2RefcountBits = 0 },
	} {
		cfg := q2Case{size: mib}.config()
		mod(cfg)
		s := &pageSink{pages: map[int64][]byte{}}
		_, code, _ := Plan(cfg, uint64(mib), scratchDefault, s, nil)
		if code == shared.CreateErrOK || s.n != 0 {
			t.Errorf("%s: code %d after %d writes", name, code, s.n)
		}
	}
}
