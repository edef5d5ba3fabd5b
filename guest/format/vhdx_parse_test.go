//go:build cgo

package format

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"instar/shared"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// vhdxFixCRC recomputes the CRC-32C of the n-byte structure at off whose
// checksum field is at off+4 (headers: 4 KiB, region tables: 64 KiB).
func vhdxFixCRC(d []byte, off, n int) {
	binary.LittleEndian.PutUint32(d[off+4:], 0)
	binary.LittleEndian.PutUint32(d[off+4:], crc32.Checksum(d[off:off+n], castagnoli))
}

func vhdxSamples(t *testing.T, dir string) map[string]string {
	t.Helper()
	return qemuSamples(t, dir, "vhdx", "vhdx", map[string]sample{
		"base":      {"subformat=dynamic", "1G"},
		"fixed":     {"subformat=fixed,block_state_zero=off,block_size=1M", "4M"},
		"fixedzero": {"subformat=fixed", "4M"},
		"nozero":    {"block_state_zero=off", "3G"},
		"big":       {"block_size=1M", "5G"},
		"log":       {"log_size=3M,block_size=2M", "100M"},
		"tiny":      {"subformat=dynamic", "1"},
		"empty":     {"subformat=dynamic", "0"},
		"huge":      {"subformat=dynamic", "64T"},
	})
}

func TestVhdxParseQemuImages(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	parseQemuSamples(t, shared.FormatVhdx, vhdxSamples(t, t.TempDir()),
		func(p string) int64 { return qemuVirtualSize(t, p, "vhdx") }, nil)
}

// TestVhdxParseMalformed mutates qemu-made images and checks that the
// parser agrees with qemu-img info on each (both refuse, or both accept
// with the same size), without reading out of bounds.
func TestVhdxParseMalformed(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	samples := vhdxSamples(t, t.TempDir())
	const (
		h1, h2 = 0x10000, 0x20000
		r1, r2 = 0x30000, 0x40000
		meta   = 0x300000 // metadata region of "base"
		items  = meta + 0x10000
	)
	le16 := func(off int, v uint16) func([]byte) []byte {
		return func(d []byte) []byte { binary.LittleEndian.PutUint16(d[off:], v); return d }
	}
	le32 := func(off int, v uint32) func([]byte) []byte {
		return func(d []byte) []byte { binary.LittleEndian.PutUint32(d[off:], v); return d }
	}
	le64 := func(off int, v uint64) func([]byte) []byte {
		return func(d []byte) []byte { binary.LittleEndian.PutUint64(d[off:], v); return d }
	}
	fixHdr := func(h int, f func([]byte) []byte) func([]byte) []byte {
		return func(d []byte) []byte { d = f(d); vhdxFixCRC(d, h, 4096); return d }
	}
	fixRT := func(f func([]byte) []byte) func([]byte) []byte {
		return func(d []byte) []byte { d = f(d); vhdxFixCRC(d, r1, 64<<10); return d }
	}
	// unknownItem adds a sixth metadata item of another GUID with flags.
	unknownItem := func(flags uint32) func([]byte) []byte {
		return func(d []byte) []byte {
			binary.LittleEndian.PutUint16(d[meta+10:], 6)
			copy(d[meta+0xc0:], "0123456789abcdef")
			binary.LittleEndian.PutUint32(d[meta+0xd0:], 0x10000)
			binary.LittleEndian.PutUint32(d[meta+0xd8:], flags)
			return d
		}
	}
	// extraRegion adds a third region-table entry of another GUID.
	extraRegion := func(off uint64, length uint32, required bool) func([]byte) []byte {
		return fixRT(func(d []byte) []byte {
			binary.LittleEndian.PutUint32(d[r1+8:], 3)
			copy(d[r1+80:], "0123456789abcdef")
			binary.LittleEndian.PutUint64(d[r1+96:], off)
			binary.LittleEndian.PutUint32(d[r1+104:], length)
			if required {
				binary.LittleEndian.PutUint32(d[r1+108:], 1)
			}
			return d
		})
	}
	seq := func(d []byte, h int) uint64 { return binary.LittleEndian.Uint64(d[h+8:]) }
	// logEntry writes a one-sector log entry at the start of the log and
	// sets a log GUID in both headers; good says whether its CRC is right.
	logEntry := func(good bool, descs uint32) func([]byte) []byte {
		return func(d []byte) []byte {
			guid := []byte("0123456789abcdef")
			for _, h := range []int{h1, h2} {
				copy(d[h+48:], guid)
				vhdxFixCRC(d, h, 4096)
			}
			e := d[0x100000 : 0x100000+4096]
			copy(e, "loge")
			binary.LittleEndian.PutUint32(e[8:], 4096)
			binary.LittleEndian.PutUint64(e[16:], 1)
			binary.LittleEndian.PutUint32(e[24:], descs)
			copy(e[32:], guid)
			binary.LittleEndian.PutUint32(e[4:], 0)
			sum := crc32.Checksum(e, castagnoli)
			if !good {
				sum ^= 1
			}
			binary.LittleEndian.PutUint32(e[4:], sum)
			return d
		}
	}
	// withLog appends grow zero bytes to the file, gives both headers a
	// log GUID, offset and length, and writes one-sector-header entries
	// (each at an offset in the log, of a length, with a right CRC or
	// not; the CRC covers the entry wrapping round the log, bytes past
	// the end of the file counted as zeros).
	type entry struct {
		at, length uint32
		good       bool
	}
	withLog := func(grow int, off uint64, length uint32, entries ...entry) func([]byte) []byte {
		return func(d []byte) []byte {
			d = append(d, make([]byte, grow)...)
			guid := []byte("0123456789abcdef")
			for _, h := range []int{h1, h2} {
				copy(d[h+48:], guid)
				binary.LittleEndian.PutUint32(d[h+68:], length)
				binary.LittleEndian.PutUint64(d[h+72:], off)
				vhdxFixCRC(d, h, 4096)
			}
			for _, e := range entries {
				h := d[off+uint64(e.at):]
				copy(h, "loge")
				binary.LittleEndian.PutUint32(h[4:], 0)
				binary.LittleEndian.PutUint32(h[8:], e.length)
				binary.LittleEndian.PutUint64(h[16:], 1)
				copy(h[32:], guid)
				sum := uint32(0)
				for done := uint32(0); done < e.length; done += 4096 {
					sector := make([]byte, 4096)
					if at := off + uint64((e.at+done)%length); at < uint64(len(d)) {
						copy(sector, d[at:])
					}
					sum = crc32.Update(sum, castagnoli, sector)
				}
				if !e.good {
					sum ^= 1
				}
				binary.LittleEndian.PutUint32(h[4:], sum)
			}
			return d
		}
	}
	muts := []mutation{
		{"ok", "base", func(d []byte) []byte { return d }},
		// The log checks qemu makes before its search, and its search:
		// an entry whose CRC is wrong is skipped whole, an entry that
		// wraps round the log's end ends the search, and the log past
		// the end of the file reads as zeros (where the scan once spent
		// seconds: a 4 GiB log, or entry, of zeros).
		{"log-off-0", "base", fixHdr(h2, le64(h2+72, 0))},
		{"log-len-not-mib", "base", withLog(0, 0x100000, 0xff000)},
		{"log-len-not-mib-no-guid", "base", fixHdr(h2, le32(h2+68, 0xff000))},
		{"log-good-in-bad-entry", "base", withLog(0, 0x100000, 0x100000, entry{0, 0x2000, false}, entry{0x1000, 0x1000, true})},
		{"log-good-after-bad-entry", "base", withLog(0, 0x100000, 0x100000, entry{0, 0x2000, false}, entry{0x2000, 0x1000, true})},
		{"log-4g-past-eof", "base", withLog(0, 1<<40, 0xfff00000)},
		// (qemu-img 7.2's search never ends on a log whose entries end
		// where they start, such as one entry as long as the log: it
		// stops only once it wraps to before where it began.)
		{"log-entry-past-eof-good", "base", withLog(0x100000, 0x400000, 0x4000000, entry{0x1000, 0x2000000, true})},
		{"log-entry-past-eof-bad", "base", withLog(0x100000, 0x400000, 0x4000000, entry{0x1000, 0x2000000, false})},
		{"empty-file", "base", func(d []byte) []byte { return nil }},
		{"file-id", "base", func(d []byte) []byte { d[0] = 'x'; return d }},
		{"trunc-100", "base", func(d []byte) []byte { return d[:100] }},
		{"trunc-200k", "base", func(d []byte) []byte { return d[:0x32000] }},
		{"trunc-1M", "base", func(d []byte) []byte { return d[:0x100000] }},
		{"trunc-3M", "base", func(d []byte) []byte { return d[:0x300000] }},
		{"trunc-meta", "base", func(d []byte) []byte { return d[:0x300100] }},
		{"trunc-items", "base", func(d []byte) []byte { return d[:0x310010] }},
		{"trunc-4M", "base", func(d []byte) []byte { return d[:0x400000] }},
		{"trunc-odd", "fixed", func(d []byte) []byte { return d[:len(d)-1000] }},
		{"h1-crc", "base", le32(h1+4, 0)},
		{"h2-crc", "base", le32(h2+4, 0)},
		{"both-crc", "base", func(d []byte) []byte { d[h1+4]++; d[h2+4]++; return d }},
		{"h1-sig", "base", fixHdr(h1, func(d []byte) []byte { d[h1] = 'x'; return d })},
		{"h1-version-2", "base", fixHdr(h1, le16(h1+66, 2))},
		{"h2-version-0", "base", fixHdr(h2, le16(h2+66, 0))},
		{"both-version-2", "base", func(d []byte) []byte {
			d = fixHdr(h1, le16(h1+66, 2))(d)
			return fixHdr(h2, le16(h2+66, 2))(d)
		}},
		{"h2-log-version", "base", fixHdr(h2, le16(h2+64, 1))},
		{"h1-log-version-h2-current", "base", fixHdr(h1, le16(h1+64, 1))},
		{"h1-current-log-version", "base", func(d []byte) []byte {
			d = le64(h1+8, seq(d, h2)+1)(d)
			return fixHdr(h1, le16(h1+64, 1))(d)
		}},
		{"log-guid-empty-log", "base", fixHdr(h2, func(d []byte) []byte { d[h2+48] = 1; return d })},
		{"log-len-0", "base", fixHdr(h2, le32(h2+68, 0))},
		{"log-len-4k", "base", fixHdr(h2, le32(h2+68, 4096))},
		{"log-len-overlap", "base", fixHdr(h2, le32(h2+68, 0x101000))},
		{"log-off-odd", "base", fixHdr(h2, le64(h2+72, 0x80000))},
		{"log-off-far", "base", fixHdr(h2, le64(h2+72, 0xff00000000))},
		{"log-off-on-bat", "base", fixHdr(h2, le64(h2+72, 0x200000))},
		{"seq-equal-same", "base", func(d []byte) []byte {
			d = le64(h2+8, seq(d, h1))(d)
			return fixHdr(h2, func(d []byte) []byte { return d })(d)
		}},
		{"seq-equal-differ", "base", func(d []byte) []byte {
			d = le64(h2+8, seq(d, h1))(d)
			d = fixHdr(h2, func(d []byte) []byte { return d })(d)
			return fixHdr(h1, func(d []byte) []byte { d[h1+100] = 1; return d })(d)
		}},
		{"log-entry-valid", "base", logEntry(true, 0)},
		{"log-entry-bad-crc", "base", logEntry(false, 0)},
		{"log-entry-too-many-descs", "base", logEntry(true, 200)},
		{"r1-crc", "base", le32(r1+4, 0)},
		{"r2-crc", "base", le32(r2+4, 0)},
		{"r1-sig", "base", fixRT(func(d []byte) []byte { d[r1] = 'x'; return d })},
		{"r1-count-0", "base", fixRT(le32(r1+8, 0))},
		{"r1-count-1", "base", fixRT(le32(r1+8, 1))},
		{"r1-count-3", "base", fixRT(le32(r1+8, 3))},
		{"r1-count-2047", "base", fixRT(le32(r1+8, 2047))},
		{"r1-count-2048", "base", fixRT(le32(r1+8, 2048))},
		{"r1-count-max", "base", fixRT(le32(r1+8, 0xFFFFFFFF))},
		{"r1-unknown-required", "base", extraRegion(0x500000, 0x100000, true)},
		{"r1-unknown-optional", "base", extraRegion(0x200000, 0x100000, false)},
		{"r1-dup-bat", "base", fixRT(func(d []byte) []byte {
			binary.LittleEndian.PutUint32(d[r1+8:], 3)
			copy(d[r1+80:r1+112], d[r1+16:r1+48])
			return d
		})},
		{"r1-bat-required", "base", fixRT(le32(r1+44, 1))},
		{"bat-off-unaligned", "base", fixRT(le64(r1+32, 0x210000))},
		{"bat-off-0", "base", fixRT(le64(r1+32, 0))},
		{"bat-off-past-end", "base", fixRT(le64(r1+32, 1<<40))},
		{"bat-off-max", "base", fixRT(le64(r1+32, ^uint64(0)-100))},
		{"bat-off-far-unaligned", "base", fixRT(le64(r1+32, 0x480000))},
		{"bat-len-0", "base", fixRT(le32(r1+40, 0))},
		{"bat-len-256", "base", fixRT(le32(r1+40, 256))},
		{"bat-len-1016", "base", fixRT(le32(r1+40, 1016))},
		{"bat-len-1024", "base", fixRT(le32(r1+40, 1024))},
		{"bat-len-2M", "base", fixRT(le32(r1+40, 0x200000))},
		{"meta-off-past-end", "base", fixRT(le64(r1+64, 1<<40))},
		{"meta-off-unaligned", "base", fixRT(le64(r1+64, 0x310000))},
		{"meta-len-0", "base", fixRT(le32(r1+72, 0))},
		{"meta-len-big", "base", fixRT(le32(r1+72, 0x1000000))},
		{"meta-sig", "base", func(d []byte) []byte { d[meta] = 'x'; return d }},
		{"meta-count-0", "base", le16(meta+10, 0)},
		{"meta-count-4", "base", le16(meta+10, 4)},
		{"meta-count-6", "base", le16(meta+10, 6)},
		{"meta-count-2047", "base", le16(meta+10, 2047)},
		{"meta-count-2048", "base", le16(meta+10, 2048)},
		{"meta-count-max", "base", le16(meta+10, 0xFFFF)},
		{"fp-off-0", "base", le32(meta+0x30, 0)},
		{"fp-off-64k-1", "base", le32(meta+0x30, 0xFFFF)},
		{"fp-off-1M", "base", le32(meta+0x30, 0x100000)},
		{"fp-off-max", "base", le32(meta+0x30, 0xFFFFFFFF)},
		{"fp-moved-1M", "base", func(d []byte) []byte {
			binary.LittleEndian.PutUint32(d[meta+0x30:], 0x100000)
			copy(d[meta+0x100000:], d[items:items+8])
			return d
		}},
		{"fp-len-0", "base", le32(meta+0x34, 0)},
		{"fp-flags-0", "base", le32(meta+0x38, 0)},
		{"unknown-item-required", "base", unknownItem(4)},
		{"unknown-item-optional", "base", unknownItem(3)},
		{"dup-fp", "base", func(d []byte) []byte {
			binary.LittleEndian.PutUint16(d[meta+10:], 6)
			copy(d[meta+0xc0:meta+0xe0], d[meta+0x20:meta+0x40])
			return d
		}},
		{"parent-locator-item", "base", func(d []byte) []byte {
			binary.LittleEndian.PutUint16(d[meta+10:], 6)
			copy(d[meta+0xc0:], []byte{0x2D, 0x5F, 0xD3, 0xA8, 0x0B, 0xB3, 0x4D, 0x45, 0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C})
			binary.LittleEndian.PutUint32(d[meta+0xd0:], 0x10100)
			binary.LittleEndian.PutUint32(d[meta+0xd8:], 4)
			return d
		}},
		{"bs-0", "base", le32(items, 0)},
		{"bs-512k", "base", le32(items, 512<<10)},
		{"bs-3M", "base", le32(items, 3<<20)},
		{"bs-512M", "base", le32(items, 512<<20)},
		{"bs-1M", "base", le32(items, 1<<20)},
		{"bs-256M", "base", le32(items, 256<<20)},
		{"has-parent", "base", le32(items+4, 2)},
		{"leave-allocated", "base", le32(items+4, 1)},
		{"fp-flag-4", "base", le32(items+4, 4)},
		{"vds-0", "base", le64(items+8, 0)},
		{"vds-1", "base", le64(items+8, 1)},
		{"vds-1000", "base", le64(items+8, 1000)},
		{"vds-2G", "base", le64(items+8, 2<<30)},
		{"vds-64T", "base", le64(items+8, 64<<40)},
		{"vds-huge", "base", le64(items+8, 0xff00000000000000)},
		{"vds-max", "base", le64(items+8, ^uint64(0))},
		{"vds-64T+512-bigbat", "base", func(d []byte) []byte {
			d = fixRT(func(d []byte) []byte {
				binary.LittleEndian.PutUint64(d[r1+32:], 1<<40)
				binary.LittleEndian.PutUint32(d[r1+40:], 0x400000)
				return d
			})(d)
			binary.LittleEndian.PutUint32(d[items:], 256<<20)
			binary.LittleEndian.PutUint64(d[items+8:], 64<<40+512)
			return d
		}},
		// qemu reads the BAT region in one request, past the end of the
		// file too: its block layer's bounds on a request apply.
		{"bat-len-request-max+1", "base", fixRT(func(d []byte) []byte {
			return le32(r1+40, 0x7ffffe01)(le64(r1+32, 1<<40)(d))
		})},
		{"bat-len-2G", "base", fixRT(func(d []byte) []byte { return le32(r1+40, 0x80000000)(le64(r1+32, 1<<40)(d)) })},
		{"bat-len-4G-1M", "base", fixRT(func(d []byte) []byte { return le32(r1+40, 0xfff00000)(le64(r1+32, 1<<40)(d)) })},
		{"bat-end-at-max-length", "base", fixRT(le64(r1+32, 0x7fffffffc0000000-1<<20))},
		{"bat-end-past-max-length", "base", fixRT(le64(r1+32, 0x7fffffffc0000000-1<<20+1<<20))},
		{"bat-off-2^63", "base", fixRT(le64(r1+32, 1<<63))},
		{"lss-4096", "base", le32(items+32, 4096)},
		{"lss-1024", "base", le32(items+32, 1024)},
		{"pss-4096", "base", le32(items+36, 4096)},
		{"pss-1024", "base", le32(items+36, 1024)},
		// "fixed": 4 MiB, 1 MiB blocks at 8..12 MiB, file 12 MiB, BAT at 2 MiB.
		{"e0-last-block", "fixed", le64(0x200000, 0xb00006)},
		{"e0-eof", "fixed", le64(0x200000, 0xc00006)},
		{"e0-eof-half", "fixed", le64(0x200000, 0xb80006)},
		{"e0-meta", "fixed", le64(0x200000, 0x300006)},
		{"e0-log", "fixed", le64(0x200000, 0x100006)},
		{"e0-bat", "fixed", le64(0x200000, 0x200006)},
		{"e0-header", "fixed", le64(0x200000, 0x000006)},
		{"e0-dup", "fixed", le64(0x200000, 0x900006)},
		{"e0-huge", "fixed", le64(0x200000, 0xff00000000000006)},
		{"e0-max", "fixed", le64(0x200000, ^uint64(0)-1)},
		{"e0-state1", "fixed", le64(0x200000, 0x800001)},
		{"e0-state3", "fixed", le64(0x200000, 0x800003)},
		{"e0-state7-past", "fixed", le64(0x200000, 0xf00007)},
		{"e0-state2-past", "fixed", le64(0x200000, 0xf00002)},
		{"e0-low-bits", "fixed", le64(0x200000, 0x880006)},
		{"e3-past", "fixed", le64(0x200000+24, 0xf00006)},
		{"e4-past-beyond-count", "fixed", le64(0x200000+32, 0xf00006)},
		{"fixed-trunc-511", "fixed", func(d []byte) []byte { return d[:len(d)-511] }},
		{"fixed-trunc-512", "fixed", func(d []byte) []byte { return d[:len(d)-512] }},
		{"fixed-trunc-1M", "fixed", func(d []byte) []byte { return d[:len(d)-1<<20] }},
		{"zero-len-region-in-bat", "base", extraRegion(0x280000, 0, false)},
		{"unknown-region-on-block", "fixed", extraRegion(0x900000, 0x1000, false)},
		{"unknown-region-next-to-block", "fixed", extraRegion(0xc00000, 0x1000, false)},
		{"many-zero-regions", "fixed", fixRT(func(d []byte) []byte {
			binary.LittleEndian.PutUint32(d[r1+8:], 2047)
			return d
		})},
		// "big": 5 GiB, 1 MiB blocks: entry 4096 is a sector bitmap entry.
		{"sb-past", "big", le64(0x200000+4096*8, 0x1000000000|6)},
		{"sb-past-state7", "big", le64(0x200000+4096*8, 0x1000000000|7)},
		{"sb-meta", "big", le64(0x200000+4096*8, 0x300006)},
	}
	parseMutations(t, shared.FormatVhdx, samples, muts, func(p string) int64 { return qemuVirtualSize(t, p, "vhdx") })
}

func TestVhdxParseScratch(t *testing.T) {
	if _, code := Parse(shared.FormatVhdx, bytesReader(make([]byte, 1<<20)), 1<<20, MinScratch(shared.FormatVhdx)-1); code != shared.CreateErrBackingParse {
		t.Errorf("small scratch: %d", code)
	}
}

// TestVhdxParseAbove64TiB: qemu-img 7.2 creates vhdx images of at most 64
// TiB but opens larger ones; so does the parser (a 128 TiB disk of 256 MiB
// blocks whose BAT lies past the end of the file, where it reads as
// zeros). The fuzz targets' size limit for vhdx is therefore qemu's block
// layer's, not the create limit.
func TestVhdxParseAbove64TiB(t *testing.T) {
	needQemuImg(t)
	samples := vhdxSamples(t, t.TempDir())
	d, err := os.ReadFile(samples["base"])
	if err != nil {
		t.Fatal(err)
	}
	le32, le64 := binary.LittleEndian.PutUint32, binary.LittleEndian.PutUint64
	r := d[192<<10 : 256<<10]
	var meta uint64
	for i := uint32(0); i < binary.LittleEndian.Uint32(r[8:]); i++ {
		e := r[16+32*i:]
		if e[0] == 0x66 && e[1] == 0x77 { // the BAT: 8 MiB at 8 MiB
			le64(e[16:], 8<<20)
			le32(e[24:], 8<<20)
		} else {
			meta = binary.LittleEndian.Uint64(e[16:])
		}
	}
	m := d[meta:]
	for i := 0; i < int(binary.LittleEndian.Uint16(m[10:])); i++ {
		e := m[32+32*i:]
		item := m[binary.LittleEndian.Uint32(e[16:]):]
		switch {
		case e[0] == 0x37 && e[1] == 0x67: // file parameters
			le32(item, 256<<20)
		case e[0] == 0x24 && e[1] == 0x42: // virtual disk size
			le64(item, 128<<40)
		}
	}
	copy(d[256<<10:], r)
	im := &fuzzImage{pieces: []imagePiece{{0, d}}, size: int64(len(d))}
	fixChecksums(im, shared.FormatVhdx)
	p := filepath.Join(t.TempDir(), "huge.vhdx")
	if err := im.writeFile(p); err != nil {
		t.Fatal(err)
	}
	got, code := Parse(shared.FormatVhdx, im, im.size, MinScratch(shared.FormatVhdx))
	if want := qemuVirtualSize(t, p, "vhdx"); want != 128<<40 || code != shared.CreateErrOK || got.VirtualSize != 128<<40 {
		t.Errorf("qemu-img says %d, the parser %+v (code %d); want both 128 TiB", want, got, code)
	}
}

// TestCrc32cZeros holds crc32c_zeros to the CRC of that many zero bytes.
func TestCrc32cZeros(t *testing.T) {
	for _, n := range []uint64{0, 1, 2, 3, 7, 8, 9, 4095, 4096, 1<<20 + 3, 3 << 22} {
		for _, crc := range []uint32{0, 1, 0xdeadbeef, 0xffffffff} {
			want := crc32.Update(crc, castagnoli, make([]byte, n))
			if got := crc32cZeros(crc, n); got != want {
				t.Errorf("crc32c_zeros(%#x, %d) = %#x, want %#x", crc, n, got, want)
			}
		}
	}
}
