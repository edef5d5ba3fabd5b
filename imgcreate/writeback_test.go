package imgcreate

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestEarlyWriteback writes through an earlyWriteback and checks the
// file holds every write and stop returns: for writes too few to start
// the write-back thread, and for enough to start it, with stop called at
// once (the thread may not have begun to run).
func TestEarlyWriteback(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes int // one page each, end to end (one extent to free)
	}{
		{"none", 0},
		{"below the kick", kickPages - 1},
		{"one kick", kickPages},
		{"many kicks", 5 * kickPages},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := 0; round < 8; round++ {
				f, err := os.Create(filepath.Join(t.TempDir(), "out"))
				if err != nil {
					t.Fatal(err)
				}
				w := newEarlyWriteback(f)
				page := bytes.Repeat([]byte{byte(round + 1)}, int(pageSize))
				for i := 0; i < tc.writes; i++ {
					if n, err := w.WriteAt(page, int64(i)*pageSize); n != len(page) || err != nil {
						t.Fatalf("write %d: %d, %v", i, n, err)
					}
				}
				done := make(chan struct{})
				go func() { w.stop(); close(done) }()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("stop did not return")
				}
				got := make([]byte, pageSize)
				for i := 0; i < tc.writes; i++ {
					if _, err := f.ReadAt(got, int64(i)*pageSize); err != nil || !bytes.Equal(got, page) {
						t.Fatalf("page %d: %v, wrong contents", i, err)
					}
				}
				f.Close()
			}
		})
	}
}
