package pack

import (
	"bytes"
	"testing"

	"instar/embed/bundle"
)

var sample = []bundle.Binary{
	{Entry: bundle.Entry{Name: "core", LoadAddr: 0x10000, MemSize: 64}, Data: []byte("core bytes")},
	{Entry: bundle.Entry{Name: "create", LoadAddr: 0x20000, MemSize: 4096}, Data: bytes.Repeat([]byte{7}, 1001)},
}

func pack(t *testing.T, bins []bundle.Binary) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, bins); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriteIsReproducible(t *testing.T) {
	reversed := []bundle.Binary{sample[1], sample[0]}
	if !bytes.Equal(pack(t, sample), pack(t, reversed)) {
		t.Error("the same binaries in another order give another archive")
	}
}

// TestReadsBack checks that what the cpio library writes, bundle's own
// reader reads: members of every length modulo 4, so that each padding
// case is crossed.
func TestReadsBack(t *testing.T) {
	var bins []bundle.Binary
	for n := range 9 {
		bins = append(bins, bundle.Binary{
			Entry: bundle.Entry{Name: string(rune('a'+n)) + "-guest", LoadAddr: 0x20000, MemSize: 64},
			Data:  bytes.Repeat([]byte{byte(n + 1)}, n*3),
		})
	}
	archive := pack(t, bins)
	b, err := bundle.Read(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range bins {
		got, err := b.Get(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, want.Data) || got.Size != uint64(len(want.Data)) {
			t.Errorf("%s: %d bytes read back, want %d", want.Name, len(got.Data), len(want.Data))
		}
	}
}
