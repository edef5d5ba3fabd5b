package imgread

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"instar/shared"
)

// TestExtentDevices: the extent files' table gives each file's offset
// and length in the data device, every file starts on a sector, and the
// data device reads as the files with zeros between them, whatever the
// read's span.
func TestExtentDevices(t *testing.T) {
	dir := t.TempDir()
	contents := [][]byte{[]byte("abc"), bytes.Repeat([]byte{7}, 600), {}, bytes.Repeat([]byte{9}, 1024)}
	var files []*os.File
	for k, c := range contents {
		p := filepath.Join(dir, string(rune('a'+k)))
		if err := os.WriteFile(p, c, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	table, data, err := extentDevices(files)
	if err != nil {
		t.Fatal(err)
	}
	if table.Size != uint64(16*len(files)) {
		t.Fatalf("table of %d bytes for %d files", table.Size, len(files))
	}
	tb := make([]byte, table.Size)
	if _, err := table.R.ReadAt(tb, 0); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, data.Size)
	for k, c := range contents {
		var e shared.InfoExtentEntry
		if err := binary.Read(bytes.NewReader(tb[16*k:]), binary.LittleEndian, &e); err != nil {
			t.Fatal(err)
		}
		if e.Size != uint64(len(c)) || e.Offset%512 != 0 || e.Offset+e.Size > data.Size {
			t.Fatalf("file %d: entry %+v for %d bytes in %d", k, e, len(c), data.Size)
		}
		copy(want[e.Offset:], c)
	}
	for _, span := range []int{1, 7, 512, 1000, len(want)} {
		for off := 0; off+span <= len(want); off += span {
			got := bytes.Repeat([]byte{0xee}, span)
			if n, err := data.R.ReadAt(got, int64(off)); n != span || err != nil {
				t.Fatalf("read of %d at %d: %d, %v", span, off, n, err)
			}
			if !bytes.Equal(got, want[off:off+span]) {
				t.Fatalf("read of %d at %d: %x, want %x", span, off, got, want[off:off+span])
			}
		}
	}
	// A file that shrank is an error, not zeros.
	if err := os.Truncate(files[3].Name(), 10); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 100)
	if _, err := data.R.ReadAt(b, int64(len(want)-100)); err != io.ErrUnexpectedEOF {
		t.Fatalf("read of a shrunk file: %v", err)
	}
}
