//go:build cgo

package format

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"instar/shared"
)

// q2Sample is a qcow2 image from qemu-img with a backing name, so that the
// malformed cases have every field to break.
func q2Sample(t *testing.T, opts string) []byte {
	t.Helper()
	needQemuImg(t)
	p := filepath.Join(t.TempDir(), "s.qcow2")
	args := []string{"-f", "qcow2", "-b", "base.raw", "-F", "raw", "-u"}
	if opts != "" {
		args = append(args, "-o", opts)
	}
	if out, err := qemuCreate(append(args, p, "1G")...); err != nil {
		t.Fatal(err, out)
	}
	d, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// q2EndMarker is the offset of the end-of-extensions marker in d.
func q2EndMarker(d []byte) int {
	off := int(binary.BigEndian.Uint32(d[100:]))
	for binary.BigEndian.Uint32(d[off:]) != 0 {
		off += 8 + int((binary.BigEndian.Uint32(d[off+4:])+7)&^7)
	}
	return off
}

func TestQcow2ParseMalformed(t *testing.T) {
	good := q2Sample(t, "")
	be32 := binary.BigEndian.PutUint32
	be64 := binary.BigEndian.PutUint64
	parse := func(d []byte) uint32 {
		_, code := Parse(shared.FormatQcow2, bytesReader(d), int64(len(d)), 0)
		return code
	}
	if got, code := Parse(shared.FormatQcow2, bytesReader(good), int64(len(good)), 0); code != shared.CreateErrOK || got.VirtualSize != 1<<30 {
		t.Fatalf("good image: %+v %d", got, code)
	}
	P := uint32(shared.CreateErrBackingParse)
	for _, c := range []struct {
		name string
		mod  func(d []byte) []byte
		want uint32
	}{
		{"empty", func(d []byte) []byte { return nil }, P},
		{"truncated 71", func(d []byte) []byte { return d[:71] }, P},
		{"truncated 100", func(d []byte) []byte { return d[:100] }, P},
		{"bad magic", func(d []byte) []byte { d[3] = 0xfc; return d }, P},
		{"version 1", func(d []byte) []byte { be32(d[4:], 1); return d }, P},
		{"version 4", func(d []byte) []byte { be32(d[4:], 4); return d }, P},
		{"cluster bits 8", func(d []byte) []byte { be32(d[20:], 8); return d }, P},
		{"cluster bits 22", func(d []byte) []byte { be32(d[20:], 22); return d }, P},
		{"cluster bits huge", func(d []byte) []byte { be32(d[20:], 0xffffffff); return d }, P},
		{"size 2^63", func(d []byte) []byte { be64(d[24:], 1<<63); return d }, P},
		{"size beyond L1", func(d []byte) []byte { be64(d[24:], 1<<30+1); return d }, P},
		{"L1 too large", func(d []byte) []byte { be32(d[36:], 4<<20+1); be64(d[24:], 1<<50); return d }, P},
		{"L1 unaligned", func(d []byte) []byte { be64(d[40:], 0x30008); return d }, P},
		{"L1 offset huge", func(d []byte) []byte { be64(d[40:], 1<<63); return d }, P},
		{"refcount table empty", func(d []byte) []byte { be32(d[56:], 0); return d }, P},
		// Both open in qemu-img 7.2 (FuzzQemuQcow2 found them): a
		// refcount table at 0, and a version 2 header cut short (read
		// as zeros past the end).
		{"refcount table at 0", func(d []byte) []byte { be64(d[48:], 0); return d }, shared.CreateErrOK},
		// FuzzQemuQcow2 found it; qemu-img: "unknown compression type".
		{"compression type 230", func(d []byte) []byte { be32(d[100:], 112); d[104] = 230; return d }, P},
		{"zstd without its incompatible bit", func(d []byte) []byte { be32(d[100:], 112); d[104] = 1; return d }, P},
		{"version 2 header cut to 60 bytes", func(d []byte) []byte { be32(d[4:], 2); return d[:60] }, shared.CreateErrOK},
		{"refcount table unaligned", func(d []byte) []byte { be64(d[48:], 0x10001); return d }, P},
		{"refcount table huge", func(d []byte) []byte { be32(d[56:], 0xffffffff); return d }, P},
		{"crypt method 3", func(d []byte) []byte { be32(d[32:], 3); return d }, P},
		{"unknown incompatible bit", func(d []byte) []byte { d[79] |= 0x20; return d }, P},
		{"refcount order 7", func(d []byte) []byte { be32(d[96:], 7); return d }, P},
		{"header length 103", func(d []byte) []byte { be32(d[100:], 103); return d }, P},
		{"header length > cluster", func(d []byte) []byte { be32(d[100:], 65537); return d }, P},
		{"backing name too long", func(d []byte) []byte { be32(d[16:], 1024); return d }, P},
		{"backing name past cluster", func(d []byte) []byte { be64(d[8:], 65530); return d }, P},
		{"backing name inside header", func(d []byte) []byte { be64(d[8:], 50); return d }, P},
		{"backing offset huge", func(d []byte) []byte { be64(d[8:], 1<<63); return d }, P},
		{"extension too long", func(d []byte) []byte { be32(d[116:], 0xfffffff0); return d }, P},
		{"extension past backing name", func(d []byte) []byte { be32(d[116:], 600); return d }, P},
		{"header cluster cut short", func(d []byte) []byte { return d[:200] }, shared.CreateErrOK},
		// Both found by FuzzQemuQcow2; qemu-img: "Header extension too large".
		{"end marker longer than the room left", func(d []byte) []byte { be32(d[q2EndMarker(d)+4:], 100000); return d }, P},
		// The snapshot table, as qemu-img checks it (FuzzQemuQcow2 found
		// the extra data limit).
		{"snapshot table unaligned", func(d []byte) []byte { be64(d[64:], 0x10001); return d }, P},
		{"too many snapshots", func(d []byte) []byte { be32(d[60:], 65537); return d }, P},
		{"snapshot extra data over 1 KiB", func(d []byte) []byte {
			be32(d[60:], 1)
			be64(d[64:], 3<<16)
			d = append(d, make([]byte, 3<<16+40-len(d))...)
			be32(d[3<<16+36:], 1025)
			return d
		}, P},
		{"snapshots past the end", func(d []byte) []byte { be32(d[60:], 3); be64(d[64:], 16<<16); return d }, shared.CreateErrOK},
		{"no room for an extension header", func(d []byte) []byte {
			hl := binary.BigEndian.Uint32(d[100:])
			be64(d[8:], uint64(hl)+4)
			be32(d[16:], 3)
			return d
		}, P},
	} {
		d := append([]byte(nil), good...)
		if got := parse(c.mod(d)); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
	if _, code := Parse(shared.FormatQcow2, errReader{}, int64(len(good)), 0); code != shared.CreateErrBackingReadFailed {
		t.Errorf("read failure: %d", code)
	}
}
