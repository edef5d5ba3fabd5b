//go:build cgo

package format

// Native fuzz targets for every entry point of the format library that
// reads image bytes, through the same cgo glue (and so the same driver
// table) as the other tests. Each input is an image (fuzz_image_test.go)
// served through a source that checks and counts every read; scratch is
// exactly the entry point's minimum, on the C heap, so the sanitizers see
// any access past it. What must hold for any input is in checkParse.
// The seed corpora under testdata/fuzz/ come from qemu-img
// (TestWriteSeedCorpus) plus every crasher found, kept as regression inputs.

import (
	"bytes"
	"runtime"
	"syscall"
	"testing"
	"time"

	"instar/shared"
	"instar/shared/formats"
)

// parseWork bounds the bytes a parser may read from an image of size
// bytes: each structure once, the header regions (2 MiB with a vmdk's
// descriptor) more than once. More is unbounded work.
func parseWork(size int64) uint64 { return 4*uint64(size) + 8<<20 }

// parseReads bounds the number of reads: a parser reads in chunks of at
// least a sector, or a structure at a time.
func parseReads(size int64) uint64 { return 4*uint64(size)/512 + 4096 }

// maxCallCPU bounds the CPU time of one call of an entry point. Reads are
// counted (parseWork), but bytes past the end of a file read as zeros
// without a read (read_padded), so a loop over a huge count of them (a
// vhdx log claiming 4 GiB) escapes that count; this catches it. Calls
// take milliseconds under the sanitizers; the bound is far above them and
// is CPU time, which a busy machine does not inflate.
const maxCallCPU = 2 * time.Second

// threadCPU runs f on one OS thread and returns the CPU time that thread
// spent in it (f's C call runs on the calling thread).
func threadCPU(f func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_THREAD, &before)
	f()
	syscall.Getrusage(syscall.RUSAGE_THREAD, &after)
	return time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
}

// checkCPU fails t when a call took more than maxCallCPU.
func checkCPU(t *testing.T, what string, d time.Duration) {
	t.Helper()
	if d > maxCallCPU {
		t.Fatalf("unbounded work: %s took %v of CPU", what, d)
	}
}

// probeScratch is what fmt_probe needs: the probe buffer, then any
// driver's parser.
func probeScratch() int {
	n := DetectMinScratch
	for _, f := range formats.All {
		n = max(n, MinScratch(f.Number))
	}
	return n
}

// checkParse runs entry over in and checks what must hold for any input:
// no read outside the image, bounded work, and either an error a parser
// may give or a result the format can express. want is the format a
// successful parse must report (0: any format instar knows). It returns
// the result and code.
func checkParse(t *testing.T, entry Entry, format uint32, in []byte, scratch int, want uint32) (ParsedBacking, uint32) {
	t.Helper()
	return checkImage(t, entry, format, decodeImage(in), scratch, want)
}

// checkImage is checkParse on a decoded image.
func checkImage(t *testing.T, entry Entry, format uint32, im *fuzzImage, scratch int, want uint32) (ParsedBacking, uint32) {
	t.Helper()
	var got ParsedBacking
	var code uint32
	var st ReadStats
	checkCPU(t, "the parse", threadCPU(func() { got, code, st = ParseCounted(entry, format, im, im.size, scratch) }))
	checkReads(t, st, im.size)
	switch code {
	case shared.CreateErrOK:
	case shared.CreateErrBackingParse, shared.CreateErrBackingReadFailed, shared.CreateErrBackingFormat:
		return got, code
	default:
		t.Fatalf("code %d: not a parser's error", code)
	}
	if want != 0 && got.Format != want {
		t.Fatalf("parsed as format %d, want %d", got.Format, want)
	}
	checkSize(t, got)
	return got, code
}

// checkReads fails t on a read outside the image or more work than
// parseWork allows.
func checkReads(t *testing.T, st ReadStats, size int64) {
	t.Helper()
	if st.OutOfBounds != "" {
		t.Fatalf("parser asked for a %s", st.OutOfBounds)
	}
	if st.Bytes > parseWork(size) || st.Reads > parseReads(size) {
		t.Fatalf("unbounded work: %d reads of %d bytes in all from an image of %d", st.Reads, st.Bytes, size)
	}
}

// checkSize fails t unless got's virtual size is one its format can
// express: within what qemu 7.2 reads (readLimit), and in whole sectors
// where the format counts in sectors.
func checkSize(t *testing.T, got ParsedBacking) {
	t.Helper()
	var f *formats.Format
	for _, g := range formats.All {
		if g.Number == got.Format {
			f = g
		}
	}
	if f == nil {
		t.Fatalf("parsed as format %d, which instar does not know", got.Format)
	}
	if limit := readLimit(f); got.VirtualSize > limit {
		t.Fatalf("%s virtual size %d above the largest qemu reads, %d", f.Name, got.VirtualSize, limit)
	}
	sectors := got.Format == shared.FormatVmdk || got.Format == shared.FormatVpc || got.Format == shared.FormatVhdx
	if sectors && got.VirtualSize%512 != 0 {
		t.Fatalf("%s virtual size %d is not in whole sectors", f.Name, got.VirtualSize)
	}
}

// readLimit is the largest virtual size qemu 7.2 reads in format f: its
// block layer's limit, or the format's own where the parser holds it
// (vpc's 2040 GiB). The format table's MaxSize is what qemu creates,
// which for vhdx is less than it reads (TestVhdxParseAbove64TiB).
func readLimit(f *formats.Format) uint64 {
	if f.Number == shared.FormatVpc {
		return f.MaxSize
	}
	return formats.BdrvMaxLength
}

func FuzzDetect(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		im := decodeImage(in)
		var got ParsedBacking
		var code uint32
		var st ReadStats
		checkCPU(t, "detect", threadCPU(func() { got, code, st = ParseCounted(EntryDetect, 0, im, im.size, DetectMinScratch) }))
		if st.OutOfBounds != "" {
			t.Fatalf("detect asked for a %s", st.OutOfBounds)
		}
		// Detection looks at the first DETECT_PROBE_SIZE bytes, once.
		if st.Reads > 1 || st.Bytes > uint64(min(im.size, 2048)) {
			t.Fatalf("detect made %d reads of %d bytes", st.Reads, st.Bytes)
		}
		switch code {
		case shared.CreateErrOK:
			checkSize(t, ParsedBacking{Format: got.Format})
		case shared.CreateErrBackingFormat:
		default:
			t.Fatalf("detect code %d", code)
		}
	})
}

// addParserSeeds adds every parser target's seeds to f, through add.
func addParserSeeds(f *testing.F, add func(format uint32, in []byte)) {
	for format, targets := range parserTargets {
		for _, target := range targets {
			for _, in := range readCorpus(f, target) {
				add(format, in)
			}
		}
	}
}

// FuzzProbe is fmt_probe: detection, then the detected format's parser.
// Its seeds are every parser target's.
func FuzzProbe(f *testing.F) {
	scratch := probeScratch()
	addParserSeeds(f, func(_ uint32, in []byte) { f.Add(in) })
	f.Fuzz(func(t *testing.T, in []byte) {
		got, code := checkParse(t, EntryProbe, 0, in, scratch, 0)
		if code != shared.CreateErrOK {
			return
		}
		im := decodeImage(in)
		if detected, dcode := Detect(im, im.size, DetectMinScratch); dcode != shared.CreateErrOK || detected != got.Format {
			t.Fatalf("probe parsed format %d, detect says %d (code %d)", got.Format, detected, dcode)
		}
	})
}

// fuzzParser is the target of one format's header parser. The format's
// checksums are made right after decoding (fixChecksums), so that
// mutations reach past them; FuzzProbe and FuzzCreateBacking see the
// bytes as they come.
func fuzzParser(f *testing.F, format uint32) {
	scratch := MinScratch(format)
	f.Fuzz(func(t *testing.T, in []byte) {
		im := decodeImage(in)
		fixChecksums(im, format)
		checkImage(t, EntryParse, format, im, scratch, format)
	})
}

func FuzzQcow2(f *testing.F) { fuzzParser(f, shared.FormatQcow2) }

// FuzzVmdkSparse is the vmdk parser from a sparse extent's header ("KDMV"
// or "COWD", its seeds): header fields, the embedded descriptor, the
// streamOptimized footer.
func FuzzVmdkSparse(f *testing.F) { fuzzParser(f, shared.FormatVmdk) }

// FuzzVmdkDescriptor is the vmdk parser from a descriptor file (its
// seeds): createType, extent lines, CIDs and the parent hint.
func FuzzVmdkDescriptor(f *testing.F) { fuzzParser(f, shared.FormatVmdk) }

func FuzzVpc(f *testing.F) { fuzzParser(f, shared.FormatVpc) }

// FuzzVhdx covers the headers, region table, log check, metadata walk and
// BAT check.
func FuzzVhdx(f *testing.F) { fuzzParser(f, shared.FormatVhdx) }

// FuzzCreateBacking takes the path create.c takes with a backing file:
// with -F (format selects it from the format table) the file is parsed as
// that format; without, it is only detected (qemu-img 7.2 then refuses,
// naming the format). A vmdk image then reads its backing file again in
// the planner (the parent CID), which must agree with the parse.
func FuzzCreateBacking(f *testing.F) {
	addParserSeeds(f, func(format uint32, in []byte) {
		f.Add(uint8(0), in)
		for i, fm := range formats.All {
			if fm.Number == format {
				f.Add(uint8(i+1), in)
			}
		}
	})
	f.Fuzz(func(t *testing.T, format uint8, in []byte) {
		im := decodeImage(in)
		if int(format)%(len(formats.All)+1) == 0 {
			got, code, st := ParseCounted(EntryDetect, 0, im, im.size, scratchDefault)
			checkReads(t, st, im.size)
			if code == shared.CreateErrOK {
				checkSize(t, ParsedBacking{Format: got.Format})
			} else if code != shared.CreateErrBackingFormat {
				t.Fatalf("detect code %d", code)
			}
			return
		}
		fm := formats.All[int(format)%(len(formats.All)+1)-1]
		_, code := checkParse(t, EntryParse, fm.Number, in, scratchDefault, fm.Number)
		if fm.Number != shared.FormatVmdk {
			return
		}
		cfg := baseConfig(shared.FormatVmdk, 1<<20)
		cfg.BackingFormat = shared.FormatVmdk
		cfg.BackingFileLen = uint32(copy(cfg.BackingFile[:], "base.vmdk"))
		cfg.ImageNameLen = uint32(copy(cfg.ImageName[:], "new.vmdk"))
		var st ReadStats
		var pcode uint32
		var err error
		checkCPU(t, "the plan", threadCPU(func() {
			_, pcode, err = Plan(cfg, 1<<20, scratchDefault, discardSink{}, &Backing{R: im, Size: im.size, Stats: &st})
		}))
		if err != nil {
			t.Fatal(err)
		}
		checkReads(t, st, im.size)
		if (code == shared.CreateErrOK) != (pcode == shared.CreateErrOK) {
			t.Fatalf("the parse gives code %d, the planner reading the same backing file %d", code, pcode)
		}
	})
}

// TestFuzzImageEncoding holds the seed encoding to its inverse and to its
// bounds.
func TestFuzzImageEncoding(t *testing.T) {
	file := make([]byte, 5000)
	copy(file[0:], "head")
	copy(file[2048:], "middle")
	copy(file[4999:], "x")
	enc, err := encodeImage(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) >= len(file)/2 {
		t.Errorf("encoded %d bytes into %d", len(file), len(enc))
	}
	im := decodeImage(enc)
	got := make([]byte, im.size)
	if _, err := im.ReadAt(got, 0); err != nil || !bytes.Equal(got, file) {
		t.Fatalf("decoded %d bytes (%v), not the %d encoded", im.size, err, len(file))
	}
	huge := append([]byte(holeMark), 0xff, 0xff, 0xff, 0xff)
	if im := decodeImage(bytes.Repeat(huge, 3)); im.size != fuzzMaxImage {
		t.Errorf("three 2 TiB holes decode to %d bytes, want the cap %d", im.size, fuzzMaxImage)
	}
	if _, err := encodeImage([]byte("x" + holeMark)); err == nil {
		t.Error("a file holding the mark was encoded")
	}
	if im := decodeImage([]byte(holeMark + "ab")); im.size != int64(len(holeMark))+2 {
		t.Errorf("a mark without its count is %d bytes, want it kept as bytes", im.size)
	}
}
