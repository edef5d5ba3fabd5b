package imgcreate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"instar/shared"
)

// TestPreallocateFull checks that full preallocation leaves every byte of
// the area allocated and zero, keeps what was written inside it, and
// reports its progress up to the whole area.
func TestPreallocateFull(t *testing.T) {
	const mib = 1 << 20
	marker := bytes.Repeat([]byte{0xA5}, 4096)
	tests := []struct {
		name       string
		start, end uint64
		data       []int64 // offsets of marker blocks written first
		size       int64   // file length before preallocation
	}{
		{"empty file", 0, 3 * mib, nil, 0},
		{"area past the end", 64 << 10, 2*mib + 512, []int64{0}, 4096},
		{"data inside the area", 0, 4 * mib, []int64{0, mib + 4096, 3 * mib}, 3*mib + 4096},
		{"unaligned area", 1000, 2*mib + 7, []int64{mib}, 2 * mib},
		{"area inside a long sparse file", mib, 2 * mib, nil, 16 * mib},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "img"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(tc.size); err != nil {
				t.Fatal(err)
			}
			for _, off := range tc.data {
				if _, err := f.WriteAt(marker, off); err != nil {
					t.Fatal(err)
				}
			}
			var last uint64
			err = preallocate(context.Background(), f, shared.PreallocFull, tc.start, tc.end, func(done, total uint64) {
				if done < last || total != tc.end-tc.start {
					t.Errorf("progress went from %d to %d of %d", last, done, total)
				}
				last = done
			})
			if err != nil {
				t.Fatal(err)
			}
			if last != tc.end-tc.start {
				t.Errorf("progress ended at %d, want %d", last, tc.end-tc.start)
			}
			got := make([]byte, tc.end-tc.start)
			if _, err := f.ReadAt(got, int64(tc.start)); err != nil {
				t.Fatal(err)
			}
			want := make([]byte, len(got))
			for _, off := range tc.data {
				for i := range marker {
					if p := uint64(off) + uint64(i); p >= tc.start && p < tc.end {
						want[p-tc.start] = marker[i]
					}
				}
			}
			if !bytes.Equal(got, want) {
				t.Error("the area's contents changed, or were not zeros where nothing was written")
			}
			// Every 4 KiB block of the area is allocated: no holes left.
			h, err := syscall.Seek(int(f.Fd()), int64(tc.start), 4 /* SEEK_HOLE */)
			if err != nil {
				t.Fatal(err)
			}
			if uint64(h) < tc.end&^4095 {
				t.Errorf("a hole is left at %d", h)
			}
		})
	}
}

// TestPreallocateInterrupted checks that a canceled context stops full
// preallocation with an error.
func TestPreallocateInterrupted(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := preallocate(ctx, f, shared.PreallocFull, 0, 1<<20, nil); err == nil {
		t.Fatal("a canceled preallocation succeeded")
	}
}
