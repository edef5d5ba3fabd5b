package imginfo

import (
	"strings"
	"testing"
)

// QDict order: buckets ascending; within a bucket ("aa" and "aq" share
// bucket 110, "ad" and "at" bucket 142) the latest insertion first. No two
// keys of one qemu 7.2 ImageInfo dict share a bucket, so qemu-img's own
// output cannot show this rule.
func TestQDictOrder(t *testing.T) {
	d := &qdict{}
	for _, k := range []string{"aa", "x", "aq", "a", "ad", "at"} {
		d.put(k, int64(0))
	}
	var got []string
	for _, i := range d.order() {
		got = append(got, d.keys[i])
	}
	if want := "aq aa x at ad a"; strings.Join(got, " ") != want {
		t.Errorf("order %q, want %q", strings.Join(got, " "), want)
	}
}

func TestSizeToStr(t *testing.T) {
	for _, c := range []struct {
		in   uint64
		want string
	}{
		{0, "0 B"},
		{999, "999 B"},
		{1000, "0.977 KiB"},
		{1023 * 1024, "0.999 MiB"},
		{237568, "232 KiB"},
		{1 << 30, "1 GiB"},
		{1536, "1.5 KiB"},
		{10230, "9.99 KiB"},
		{1022976, "999 KiB"},
		{1023591, "1e+03 KiB"},
		{1 << 63, "8 EiB"},
		{^uint64(0), "16 EiB"},
	} {
		if got := SizeToStr(c.in); got != c.want {
			t.Errorf("SizeToStr(%d) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEscapeText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain name.qcow2", "plain name.qcow2"},
		{"ünïcödé 名前 😀", "ünïcödé 名前 😀"},
		{`back\slash "q"`, `back\slash "q"`},
		{"esc\x1b[31mred", `esc\x1b[31mred`},
		{"nl\ncr\rtab\tdel\x7f", `nl\x0acr\x0dtab\x09del\x7f`},
		{"c1 \u009b csi", `c1 \xc2\x9b csi`},
		{"bad\xff\xfe", `bad\xff\xfe`},
		{"cut\xe2\x82", `cut\xe2\x82`},
		{"nul\x00hidden", "nul"},
	} {
		if got := EscapeText(c.in); got != c.want {
			t.Errorf("EscapeText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// An empty list prints as qemu prints a disabled bitmap's flags: the
// closing bracket on its own line at the list's own indentation.
func TestJSONEmptyList(t *testing.T) {
	info := &ImageInfo{Filename: "f", Format: "qcow2", VirtualSize: 1, FormatSpecific: &ImageInfoSpecificQCow2{
		Compat: "1.1", RefcountBits: 16, CompressionType: "zlib",
		Bitmaps: []QCow2BitmapInfo{{Name: "b", Granularity: 65536}},
	}}
	want := `            "bitmaps": [
                {
                    "flags": [
                    ],
`
	if got := string(JSON(info)); !strings.Contains(got, want) {
		t.Errorf("JSON:\n%s\nlacks:\n%s", got, want)
	}
}

// A nil branch pointer is an absent member, not a crash.
func TestNilSpecific(t *testing.T) {
	info := &ImageInfo{Filename: "f", Format: "qcow2", FormatSpecific: (*ImageInfoSpecificQCow2)(nil)}
	if got := string(JSON(info)); strings.Contains(got, "format-specific") {
		t.Errorf("JSON of a nil branch: %s", got)
	}
	if got := string(Human(info, nil)); strings.Contains(got, "Format specific") {
		t.Errorf("human of a nil branch: %s", got)
	}
}
