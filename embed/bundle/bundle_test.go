package bundle_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	. "instar/embed/bundle" // the package under test, read as if from inside
	"instar/embed/bundle/pack"
)

var sample = []Binary{
	{Entry: Entry{Name: "core", LoadAddr: 0x10000, MemSize: 64}, Data: []byte("core bytes")},
	{Entry: Entry{Name: "create", LoadAddr: 0x20000, MemSize: 4096}, Data: bytes.Repeat([]byte{7}, 1000)},
}

func packed(t *testing.T, bins []Binary) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := pack.Write(&buf, bins); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// read reads a whole archive held in memory.
func read(archive []byte) (*Bundle, error) {
	return Read(bytes.NewReader(archive), int64(len(archive)))
}

// readAll reads an archive and gets every binary its manifest lists: the
// first error either gives.
func readAll(archive []byte) error {
	b, err := read(archive)
	if err != nil {
		return err
	}
	for _, e := range b.Entries {
		if _, err := b.Get(e.Name); err != nil {
			return err
		}
	}
	return nil
}

func TestRoundTrip(t *testing.T) {
	b, err := read(packed(t, sample))
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
	good := packed(t, sample)
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
				m, err := ParseManifest(d)
				if err != nil {
					t.Fatal(err)
				}
				d = FormatManifest(m[:1])
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
			err := readAll(rewrite(t, good, c.edit))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Read and Get = %v, want an error containing %q", err, c.want)
			}
		})
	}
	if _, err := read([]byte("not a cpio archive")); err == nil {
		t.Error("Read accepted garbage")
	}
}

// TestReadRefusesMalformedArchives damages a good archive's cpio structure
// in each way the reader must notice.
func TestReadRefusesMalformedArchives(t *testing.T) {
	good := packed(t, sample)
	// The first member's header: magic, then 13 fields of 8 hex digits.
	field := func(i int) int { return 6 + 8*i }
	set := func(b []byte, at int, s string) []byte {
		c := append([]byte(nil), b...)
		copy(c[at:], s)
		return c
	}
	cases := []struct {
		name    string
		archive []byte
		want    string
	}{
		{"empty", nil, "without its trailer"},
		{"truncated header", good[:60], "without its trailer"},
		{"bad magic", set(good, 0, "070707"), "magic"},
		{"field not hex", set(good, field(6), "0000zz00"), "hex"},
		{"name runs past the end", set(good, field(11), "7fffffff"), "without its trailer"},
		// The reader takes the name's length as given; what follows is
		// then no header.
		{"name without NUL", set(good, field(11), "00000002"), "magic"},
		{"data runs past the end", set(good, field(6), "7fffffff"), "past the end"},
		{"directory member", set(good, field(1), "000041ed"), "not a regular file"},
		{"no trailer", good[:len(good)-128], ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := read(c.archive)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Read = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// newcMember encodes one newc member by hand, independently of the cpio
// library, for archives that library will not write.
func newcMember(name string, data []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		0, 0o100444, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	b.WriteString(name + "\x00")
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	b.Write(data)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// TestReadRefusesDuplicates checks that a name in the archive twice is
// refused, and that the same archive without the repeat is read.
func TestReadRefusesDuplicates(t *testing.T) {
	manifest := FormatManifest([]Entry{{Name: "core", Size: 3, MemSize: 3,
		SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}}) // sha256("abc")
	build := func(members ...[]byte) []byte {
		return bytes.Join(append(members, newcMember("TRAILER!!!", nil)), nil)
	}
	core := newcMember("core", []byte("abc"))
	b, err := read(build(newcMember(ManifestName, manifest), core))
	if err != nil {
		t.Fatalf("Read of the hand-made archive: %v", err)
	}
	if bin, err := b.Get("core"); err != nil || string(bin.Data) != "abc" {
		t.Fatalf("core = %v, %v", bin, err)
	}
	if _, err := read(build(newcMember(ManifestName, manifest), core, core)); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("Read = %v, want a duplicate refused", err)
	}
}

// TestManifest round-trips a manifest and refuses damaged ones.
func TestManifest(t *testing.T) {
	entries := []Entry{
		{Name: "core", LoadAddr: 0x10000, MemSize: 2736, Size: 2664, SHA256: strings.Repeat("ab", 32)},
		{Name: "stub", LoadAddr: 0x100000000000, MemSize: 5368, Size: 5368, SHA256: strings.Repeat("0f", 32)},
	}
	m := FormatManifest(entries)
	got, err := ParseManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(entries) {
		t.Fatalf("round trip: %v, want %v", got, entries)
	}
	good := string(m)
	for name, bad := range map[string]string{
		"no header":        strings.SplitN(good, "\n", 2)[1],
		"no final newline": strings.TrimSuffix(good, "\n"),
		"missing field":    strings.Replace(good, " 2736", "", 1),
		"extra field":      strings.Replace(good, " 2736", " 2736 1", 1),
		"hex number":       strings.Replace(good, " 2736", " 0xab0", 1),
		"negative number":  strings.Replace(good, " 2736", " -1", 1),
		"short sha256":     strings.Replace(good, strings.Repeat("ab", 32), "abab", 1),
		"empty name":       strings.Replace(good, "core ", " ", 1),
		"blank line":       good + "\n",
	} {
		if _, err := ParseManifest([]byte(bad)); err == nil {
			t.Errorf("%s: ParseManifest accepted %q", name, bad)
		}
	}
}
