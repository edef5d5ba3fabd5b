package enc

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"instar/shared"
	"instar/shared/guestmsg"
	"instar/shared/guestmsg/msgtest"
)

// decode is msgtest.Decode: both decoders read what the guest encodes.
var decode = msgtest.Decode

func TestCompleteCarriesNamesAsStored(t *testing.T) {
	// Names from an image are bytes, control characters and invalid
	// UTF-8 included: the host escapes them, the encoder must not.
	backing := "json:{\"file\":\"/etc/\x1b[2J\xff\"}" + strings.Repeat("b", 5000)
	long := strings.Repeat("n", 2000)
	format := "raw"
	c := decode(t, func(b []byte) int {
		return Complete(b, shared.InfoErrOK, Info{Format: shared.FormatQcow2, VirtualSize: math.MaxInt64,
			Cluster: 65536, Backing: &backing, BackingFormat: &format, DataFile: &long, Dirty: true, ExternalDataFile: true})
	}).GetComplete()
	if c.GetOperation() != "info" || !c.GetSuccess() {
		t.Fatalf("complete %v", c)
	}
	var r guestmsg.InfoResultMessage
	if err := r.Unmarshal(c.GetResult()); err != nil {
		t.Fatal(err)
	}
	if r.Format != "qcow2" || r.VirtualSize != math.MaxInt64 || !r.HasClusterSize || r.ClusterSize != 65536 ||
		!r.HasDirtyFlag || !r.DirtyFlag || !r.HasQcow2DataFileRaw {
		t.Errorf("result %+v", &r)
	}
	// Every name at its longest (a vmdk's backing file, 4095 bytes) fits.
	if !r.HasBackingFilename || string(r.BackingFilename) != backing[:4095] || string(r.BackingFormat) != "raw" {
		t.Errorf("backing %q %q", r.BackingFilename, r.BackingFormat)
	}
	if !r.HasQcow2DataFile || !bytes.Equal(r.Qcow2DataFile, []byte(long[:1024])) {
		t.Errorf("data file: %d bytes", len(r.Qcow2DataFile))
	}
	if r.VmdkCreateType != nil {
		t.Errorf("absent members are present: %+v", &r)
	}
}

func TestFailureHasNoSuccess(t *testing.T) {
	c := decode(t, func(b []byte) int { return Complete(b, shared.InfoErrInvalid, Info{}) }).GetComplete()
	var r guestmsg.InfoResultMessage
	if err := r.Unmarshal(c.GetResult()); err != nil {
		t.Fatal(err)
	}
	if c.GetSuccess() || r.Error != shared.InfoErrInvalid || r.HasBackingFilename {
		t.Errorf("complete %v, result %+v", c, &r)
	}
}

func TestTableEntries(t *testing.T) {
	ic := uint64(math.MaxUint64 - 1)
	s := decode(t, func(b []byte) int { return Snapshot(b, "1\x00x", "name\x1b", math.MaxUint64, 1e9+5, &ic) }).GetSnapshot()
	if string(s.Id) != "1\x00x" || string(s.Name) != "name\x1b" || s.VmStateSize != math.MaxUint64 ||
		s.VmClockNsec != 1e9+5 || !s.HasIcount || s.Icount != ic {
		t.Errorf("snapshot %+v", s)
	}
	s = decode(t, func(b []byte) int { return Snapshot(b, "", "", 0, 0, nil) }).GetSnapshot()
	if s.HasIcount || len(s.Id) != 0 {
		t.Errorf("snapshot %+v", s)
	}
	m := decode(t, func(b []byte) int { return Bitmap(b, strings.Repeat("b", 1023), 31, true, true) }).GetBitmap()
	if len(m.Name) != 1023 || m.GranularityBits != 31 || !m.InUse || !m.Auto {
		t.Errorf("bitmap %d %+v", len(m.Name), m.GranularityBits)
	}
	e := decode(t, func(b []byte) int { return Extent(b, 7, "SPARSE", 1<<40, 65536, true) }).GetExtent()
	if e.Index != 7 || string(e.Type) != "SPARSE" || e.VirtualSize != 1<<40 || !e.HasClusterSize || !e.Compressed {
		t.Errorf("extent %+v", e)
	}
}

func TestTooSmallABufferGivesNothing(t *testing.T) {
	b := make([]byte, 16)
	backing := strings.Repeat("x", 100)
	if n := Complete(b, 0, Info{Backing: &backing}); n != 0 {
		t.Errorf("encoded %d bytes into 16", n)
	}
}
