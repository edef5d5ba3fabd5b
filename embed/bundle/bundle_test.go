package bundle

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

var sample = []Binary{
	{Entry: Entry{Name: "core", LoadAddr: 0x10000, MemSize: 64}, Data: []byte("core bytes")},
	{Entry: Entry{Name: "create", LoadAddr: 0x20000, MemSize: 4096}, Data: bytes.Repeat([]byte{7}, 1000)},
}

func pack(t *testing.T, bins []Binary) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, bins); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	b, err := Read(pack(t, sample))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range sample {
		got, err := b.Get(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, want.Data) || got.LoadAddr != want.LoadAddr || got.MemSize != want.MemSize {
			t.Errorf("%s: got %+v", want.Name, got.Entry)
		}
	}
	if _, err := b.Get("nope"); err == nil {
		t.Error("Get of a missing binary succeeded")
	}
}

func TestWriteIsReproducible(t *testing.T) {
	reversed := []Binary{sample[1], sample[0]}
	if !bytes.Equal(pack(t, sample), pack(t, reversed)) {
		t.Error("the same binaries in another order give another archive")
	}
}

// rewrite re-packs an archive with its members changed by edit.
func rewrite(t *testing.T, archive []byte, edit func(name string, data []byte) (string, []byte, bool)) []byte {
	t.Helper()
	rr := cpio.Newc.Reader(bytes.NewReader(archive))
	recs, err := cpio.ReadAllRecords(rr)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := cpio.Newc.Writer(&buf)
	for _, r := range recs {
		data := make([]byte, r.FileSize)
		if _, err := r.ReadAt(data, 0); err != nil && r.FileSize > 0 {
			t.Fatal(err)
		}
		name, data, keep := edit(r.Name, data)
		if !keep {
			continue
		}
		if err := w.WriteRecord(cpio.StaticFile(name, string(data), 0o444)); err != nil {
			t.Fatal(err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadRefusesDisagreement(t *testing.T) {
	good := pack(t, sample)
	cases := []struct {
		name string
		edit func(string, []byte) (string, []byte, bool)
		want string
	}{
		{"tampered content", func(n string, d []byte) (string, []byte, bool) {
			if n == "core" {
				d = []byte("CORE bytes")
			}
			return n, d, true
		}, "does not match"},
		{"missing member", func(n string, d []byte) (string, []byte, bool) { return n, d, n != "create" }, "lacks"},
		{"extra member", func(n string, d []byte) (string, []byte, bool) {
			if n == ManifestName {
				var m []Entry
				if err := json.Unmarshal(d, &m); err != nil {
					t.Fatal(err)
				}
				d, _ = json.Marshal(m[:1])
			}
			return n, d, true
		}, "create is not in the manifest"},
		{"no manifest", func(n string, d []byte) (string, []byte, bool) { return n, d, n != ManifestName }, "no manifest"},
		{"bad manifest", func(n string, d []byte) (string, []byte, bool) {
			if n == ManifestName {
				d = []byte("{")
			}
			return n, d, true
		}, "manifest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(rewrite(t, good, c.edit))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Read = %v, want an error containing %q", err, c.want)
			}
		})
	}
	if _, err := Read([]byte("not a cpio archive")); err == nil {
		t.Error("Read accepted garbage")
	}
}
