//go:build cgo

package format

// Fuzz targets for the drivers' info entry point, fmt_info_image: probed
// (FuzzInfo, format unset, as instar info without -f) and with the format
// forced (FuzzInfo<Format>, as with -f). An input is the image, then each
// extent file it names (a vmdk descriptor's), each after fileMark and
// each encoded as fuzz_image_test.go says. What must hold for any input
// is in checkInfo. The seeds are the info corpora
// (TestWriteInfoSeedCorpus: small qemu-img images with snapshots,
// bitmaps, backing and data file names, extent files, each matching
// qemu-img info) and every parser target's.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"instar/shared"
)

// infoTargets names each format's forced-format info target.
var infoTargets = map[uint32]string{
	shared.FormatQcow2: "FuzzInfoQcow2",
	shared.FormatVmdk:  "FuzzInfoVmdk",
	shared.FormatVpc:   "FuzzInfoVpc",
	shared.FormatVhdx:  "FuzzInfoVhdx",
}

// The longest snapshot ID and name qemu keeps (its 128- and 256-byte
// buffers), and the longest bitmap name it accepts.
const (
	infoMaxSnapshotID   = 127
	infoMaxSnapshotName = 255
	infoMaxBitmapName   = 1023
	// qemu's own buffers: a qcow2 backing name of at most 1023 bytes, its
	// backing format extension's 16 bytes, a vmdk createType's 128.
	infoMaxQcow2Backing       = 1023
	infoMaxQcow2BackingFormat = 15
	infoMaxVmdkCreateType     = 127
)

func isPow2(v uint64) bool { return v != 0 && v&(v-1) == 0 }

// fileMark separates an info input's files.
const fileMark = "\xf0FILE\x0f"

// decodeFiles splits in into the image and its extent files.
func decodeFiles(in []byte) (*fuzzImage, []InfoFile) {
	parts := bytes.Split(in, []byte(fileMark))
	var files []InfoFile
	for _, p := range parts[1:] {
		f := decodeImage(p)
		files = append(files, InfoFile{R: f, Size: f.size})
	}
	return decodeImage(parts[0]), files
}

// encodeFiles is the input of an image and its extent files.
func encodeFiles(image []byte, files [][]byte) ([]byte, error) {
	out, err := encodeImage(image)
	for _, f := range files {
		if err != nil {
			break
		}
		var enc []byte
		enc, err = encodeImage(f)
		out = append(append(out, fileMark...), enc...)
	}
	if err == nil && bytes.Count(out, []byte(fileMark)) != len(files) {
		err = fmt.Errorf("a file holds the file mark")
	}
	return out, err
}

// checkInfo runs fmt_info_image over im twice and checks what must hold
// for any input: no read outside the image and bounded work, the same
// answer both times, an INFO_ERR_* code a driver may give, as many table
// entries counted as the sink got, every name within its bound, and for
// a successful info a result the format can express (want: the format it
// must report, 0 for any). A driver that asks for the extent files
// (sending each one's name) is run again with files, as the host runs it.
func checkInfo(t *testing.T, format uint32, im *fuzzImage, files []InfoFile, scratch int, want uint32) (InfoResult, uint32) {
	t.Helper()
	got, code := checkInfoRun(t, format, im, nil, scratch)
	if code != shared.InfoErrNeedExtents {
		return checkInfoResult(t, format, im, got, code, want, false)
	}
	for i, e := range got.ExtentList {
		if e.Index != uint32(i)+1 {
			t.Fatalf("asks for extent files, extent %d with index %d", i, e.Index)
		}
	}
	n := len(got.ExtentList)
	if n == 0 {
		t.Fatal("asks for extent files and names none")
	}
	got, code = checkInfoRun(t, format, im, files, scratch)
	if code == shared.InfoErrNeedExtents && len(files) >= n {
		t.Fatalf("asks again for %d extent files, given %d", n, len(files))
	}
	return checkInfoResult(t, format, im, got, code, want, true)
}

// checkInfoRun is one run of checkInfo's, twice over.
func checkInfoRun(t *testing.T, format uint32, im *fuzzImage, files []InfoFile, scratch int) (InfoResult, uint32) {
	t.Helper()
	var got InfoResult
	var code uint32
	var st ReadStats
	checkCPU(t, "info", threadCPU(func() { got, code, st = InfoFiles(format, im, im.size, scratch, files) }))
	checkReads(t, st, im.size)
	for i, es := range got.ExtentStats {
		checkReads(t, es, files[i].Size)
	}
	again, code2, st2 := InfoFiles(format, im, im.size, scratch, files)
	if code2 != code || st2 != st || !reflect.DeepEqual(got, again) {
		t.Fatalf("not deterministic: code %d then %d, reads %+v then %+v\n%+v\n%+v", code, code2, st, st2, got, again)
	}
	return got, code
}

// checkInfoResult checks one result of checkInfo's; withFiles says the
// extent files were read (the parser, which reads none, then disagrees).
func checkInfoResult(t *testing.T, format uint32, im *fuzzImage, got InfoResult, code, want uint32, withFiles bool) (InfoResult, uint32) {
	t.Helper()
	switch code {
	case shared.InfoErrOK, shared.InfoErrReadFailed, shared.InfoErrInvalid:
	case shared.InfoErrUnsupported:
		// A detected format instar cannot read, or a vmdk kind not read yet.
	case shared.InfoErrNeedExtents:
		// Fewer extent files than the image names.
	default:
		// UNKNOWN_FMT and BAD_CONFIG: the config is right; TOO_BIG: the
		// sink never refuses.
		t.Fatalf("code %d: not an info error for this input (reason %q)", code, got.Reason)
	}
	if len(got.Reason) >= 128 {
		t.Fatalf("reason of %d bytes: %q", len(got.Reason), got.Reason)
	}
	if int(got.Snapshots) != len(got.SnapshotList) || int(got.Bitmaps) != len(got.BitmapList) ||
		int(got.Extents) != len(got.ExtentList) {
		t.Fatalf("counted %d snapshots, %d bitmaps, %d extents; the sink got %d, %d, %d", got.Snapshots, got.Bitmaps,
			got.Extents, len(got.SnapshotList), len(got.BitmapList), len(got.ExtentList))
	}
	for _, n := range []*string{got.Backing, got.BackingFormat, got.Qcow2DataFile, got.VmdkCreateType} {
		max := InfoMaxName
		if n == got.Backing {
			max = InfoMaxBacking
		}
		if n != nil && (len(*n) > max || bytes.IndexByte([]byte(*n), 0) >= 0) {
			t.Fatalf("name of %d bytes (max %d) or with a NUL: %q", len(*n), max, *n)
		}
	}
	for _, b := range []struct {
		format uint32
		name   *string
		max    int
	}{
		{shared.FormatQcow2, got.Backing, infoMaxQcow2Backing},
		{shared.FormatQcow2, got.BackingFormat, infoMaxQcow2BackingFormat},
		{shared.FormatVmdk, got.VmdkCreateType, infoMaxVmdkCreateType},
	} {
		if got.Format == b.format && b.name != nil && len(*b.name) > b.max {
			t.Fatalf("format %d name of %d bytes, over qemu's %d: %q", b.format, len(*b.name), b.max, *b.name)
		}
	}
	for _, s := range got.SnapshotList {
		if len(s.ID) > infoMaxSnapshotID || len(s.Name) > infoMaxSnapshotName {
			t.Fatalf("snapshot ID of %d bytes, name of %d", len(s.ID), len(s.Name))
		}
	}
	for _, b := range got.BitmapList {
		if len(b.Name) == 0 || len(b.Name) > infoMaxBitmapName || b.GranularityBits < 9 || b.GranularityBits > 31 {
			t.Fatalf("bitmap %q (%d bytes), granularity 2^%d", b.Name, len(b.Name), b.GranularityBits)
		}
	}
	for i, e := range got.ExtentList {
		if len(e.Name) > InfoMaxName || e.Index != uint32(i)+got.ExtentList[0].Index {
			t.Fatalf("extent %d: index %d, name of %d bytes", i, e.Index, len(e.Name))
		}
	}
	if code != shared.InfoErrOK {
		return got, code
	}
	if want != 0 && got.Format != want {
		t.Fatalf("info as format %d, want %d", got.Format, want)
	}
	if format != 0 && got.Format != format {
		t.Fatalf("info asked for format %d reports %d", format, got.Format)
	}
	checkSize(t, ParsedBacking{Format: got.Format, VirtualSize: got.VirtualSize})
	checkInfoFormat(t, got)
	// qemu's size is whole sectors (bdrv_getlength) in every format.
	if got.VirtualSize%512 != 0 {
		t.Fatalf("virtual size %d is not in whole sectors", got.VirtualSize)
	}
	// The parser create uses reads the same header: where both accept,
	// they agree on the size, once rounded as the host rounds the
	// parser's (a raw file's length up to a sector, every other format's
	// size field down).
	if p, pcode := Parse(got.Format, im, im.size, MinScratch(got.Format)); pcode == shared.CreateErrOK && !withFiles {
		ps := p.VirtualSize &^ 511
		if got.Format == shared.FormatRaw {
			ps = (p.VirtualSize + 511) &^ 511
		}
		if ps != got.VirtualSize {
			t.Fatalf("info gives virtual size %d, the parser %d", got.VirtualSize, p.VirtualSize)
		}
	}
	return got, code
}

// checkInfoFormat checks a successful info's format-specific numbers
// against what qemu 7.2 accepts at open.
func checkInfoFormat(t *testing.T, got InfoResult) {
	t.Helper()
	cs := got.ClusterSize
	switch got.Format {
	case shared.FormatQcow2:
		if !got.HasClusterSize || !isPow2(cs) || cs < 512 || cs > 2<<20 {
			t.Fatalf("qcow2 cluster size %v %d", got.HasClusterSize, cs)
		}
		if (got.Qcow2Version != 2 && got.Qcow2Version != 3) || !isPow2(uint64(got.Qcow2RefcountBits)) ||
			got.Qcow2RefcountBits > 64 || got.Qcow2CompressionType > 1 {
			t.Fatalf("qcow2 version %d, refcount bits %d, compression type %d", got.Qcow2Version,
				got.Qcow2RefcountBits, got.Qcow2CompressionType)
		}
		if got.Qcow2Version == 2 && (got.Bitmaps != 0 || got.Qcow2ExtendedL2 || got.Qcow2DataFile != nil) {
			t.Fatalf("a version 2 qcow2 with version 3 features: %+v", got)
		}
		if got.Extents != 0 {
			t.Fatalf("qcow2 with %d extents", got.Extents)
		}
	case shared.FormatVhdx:
		if !got.HasClusterSize || !isPow2(cs) || cs < 1<<20 || cs > 256<<20 {
			t.Fatalf("vhdx block size %v %d", got.HasClusterSize, cs)
		}
	case shared.FormatVpc:
		if got.HasClusterSize && (!isPow2(cs) || cs < 512) {
			t.Fatalf("vpc block size %d", cs)
		}
	case shared.FormatVmdk:
		if got.Extents == 0 {
			t.Fatal("vmdk info with no extent")
		}
	}
	if got.Format != shared.FormatQcow2 && (got.Snapshots != 0 || got.Bitmaps != 0) {
		t.Fatalf("format %d with %d snapshots, %d bitmaps", got.Format, got.Snapshots, got.Bitmaps)
	}
}

// addInfoSeeds adds the info corpus of format (every format for 0) and its
// parser targets' corpora to f.
func addInfoSeeds(f *testing.F, format uint32) {
	for fm, target := range infoTargets {
		if format != 0 && fm != format {
			continue
		}
		if format == 0 {
			for _, in := range readCorpus(f, target) {
				f.Add(in)
			}
		}
		for _, p := range parserTargets[fm] {
			for _, in := range readCorpus(f, p) {
				f.Add(in)
			}
		}
	}
}

// FuzzInfo is info without -f: the probe, then the detected format's
// info, over the bytes as they come.
func FuzzInfo(f *testing.F) {
	scratch := probeScratch()
	addInfoSeeds(f, 0)
	f.Fuzz(func(t *testing.T, in []byte) {
		im, files := decodeFiles(in)
		got, code := checkInfo(t, 0, im, files, scratch, 0)
		if code != shared.InfoErrOK {
			return
		}
		// The probe picks the driver: forcing its format gives the same.
		forced, fcode := checkInfo(t, got.Format, im, files, scratch, 0)
		if fcode != code || !reflect.DeepEqual(forced, got) {
			t.Fatalf("probed info %+v; with the format forced, code %d %+v", got, fcode, forced)
		}
	})
}

// fuzzInfo is the target of one format's info, the format forced, its
// checksums made right after decoding (fixChecksums) so that mutations
// reach past them.
func fuzzInfo(f *testing.F, format uint32) {
	scratch := MinScratch(format)
	addInfoSeeds(f, format)
	f.Fuzz(func(t *testing.T, in []byte) {
		im, files := decodeFiles(in)
		fixChecksums(im, format)
		checkInfo(t, format, im, files, scratch, format)
	})
}

func FuzzInfoQcow2(f *testing.F) { fuzzInfo(f, shared.FormatQcow2) }

// FuzzInfoVmdk covers sparse extents' headers and descriptors alike.
func FuzzInfoVmdk(f *testing.F) { fuzzInfo(f, shared.FormatVmdk) }

func FuzzInfoVpc(f *testing.F) { fuzzInfo(f, shared.FormatVpc) }

func FuzzInfoVhdx(f *testing.F) { fuzzInfo(f, shared.FormatVhdx) }

// infoSeedMax bounds an encoded info seed.
const infoSeedMax = 64 << 10

// infoSeedSamples are the small images of the info corpora: per format,
// the commands (run in the image's directory, the image named img) that
// make each.
func infoSeedSamples() map[uint32]map[string][][]string {
	c := func(args ...string) []string { return append([]string{"qemu-img", "create", "-q"}, args...) }
	q := func(args ...string) []string {
		return c(append([]string{"-f", "qcow2", "-o", "cluster_size=512"}, args...)...)
	}
	io := func(cmds ...string) []string {
		a := []string{"qemu-io", "-f", "qcow2"}
		for _, x := range cmds {
			a = append(a, "-c", x)
		}
		return append(a, "img")
	}
	snap := func(name string) []string { return []string{"qemu-img", "snapshot", "-c", name, "img"} }
	bitmap := func(name string, opts ...string) []string {
		return append(append([]string{"qemu-img", "bitmap", "--add"}, opts...), "img", name)
	}
	return map[uint32]map[string][][]string{
		shared.FormatQcow2: {
			"snapshots": {q("img", "1M"), io("write 0 4k"), snap("first"), io("write 4k 4k"), snap("a second, longer name")},
			"bitmaps":   {q("img", "1M"), bitmap("b0"), bitmap("b1", "-g", "64k"), bitmap("b2", "--disable")},
			"backing":   {q("-u", "-b", "base.qcow2", "-F", "qcow2", "img", "1M")},
			"all": {c("-f", "raw", "base.raw", "1M"), q("-b", "base.raw", "-F", "raw", "img", "1M"),
				io("write 0 4k"), snap("s1"), bitmap("bm", "-g", "4k"), snap("s2")},
			"datafile":  {q("-o", "data_file=img.data,data_file_raw=on", "img", "256k")},
			"v2-snap":   {q("-o", "compat=0.10", "img", "1M"), io("write 0 512"), snap("old")},
			"lazy-zstd": {q("-o", "lazy_refcounts=on,compression_type=zstd,refcount_bits=8", "img", "1M")},
			"extl2":     {c("-f", "qcow2", "-o", "cluster_size=16k,extended_l2=on", "img", "1M")},
		},
		shared.FormatVmdk: {
			"sparse":       {c("-f", "vmdk", "img", "1M")},
			"stream":       {c("-f", "vmdk", "-o", "subformat=streamOptimized", "img", "1M")},
			"sparse-child": {c("-f", "vmdk", "base.vmdk", "1M"), c("-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "img")},
			"flat":         {c("-f", "vmdk", "-o", "subformat=monolithicFlat", "img", "1M")},
			"twogbflat":    {c("-f", "vmdk", "-o", "subformat=twoGbMaxExtentFlat", "img", "5G")},
			"twogbsparse":  {c("-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "img", "3G")},
			"twogbsparse-child": {c("-f", "vmdk", "base.vmdk", "1M"),
				c("-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "-b", "base.vmdk", "-F", "vmdk", "img")},
			"cowd": {{"craft-cowd", "img", "2048", "8"}},
			"vmfssparse": {{"craft-cowd", "c.vmdk", "2048", "16"}, c("-f", "vmdk", "s.vmdk", "1M"),
				{"craft-desc", "img", "vmfsSparse", `RW 2048 VMFSSPARSE "c.vmdk"`, `RW 4096 VMFSSPARSE "s.vmdk"`}},
			"sesparse": {{"craft-sesparse", "e.vmdk", "2048"}, {"craft-desc", "img", "seSparse", `RW 2048 SESPARSE "e.vmdk"`}},
			"mixed": {{"truncate", "-s", "4k", "f.vmdk"}, c("-f", "vmdk", "-o", "subformat=streamOptimized", "s.vmdk", "1M"),
				{"craft-desc", "img", "twoGbMaxExtentSparse", `RW 2048 SPARSE "s.vmdk"`, `RW 8 FLAT "f.vmdk" 0`}},
		},
		shared.FormatVpc: {
			"dynamic": {c("-f", "vpc", "img", "1M")},
			"fixed":   {c("-f", "vpc", "-o", "subformat=fixed", "img", "1M")},
		},
		shared.FormatVhdx: {
			"dynamic": {c("-f", "vhdx", "img", "1M")},
			"block8m": {c("-f", "vhdx", "-o", "block_size=8M,log_size=1M", "img", "64M")},
		},
	}
}

// infoSeedDivergences are the info seeds whose report still differs from
// qemu-img's, kept as seeds all the same, and why.
var infoSeedDivergences = map[string]string{}

// TestWriteInfoSeedCorpus makes the info seed corpora (with -update):
// each image must give what qemu-img info gives.
func TestWriteInfoSeedCorpus(t *testing.T) {
	if !*updateSeeds {
		t.Skip("rewrites testdata/fuzz: run with -update")
	}
	needQemuImg(t)
	for format, samples := range infoSeedSamples() {
		target := infoTargets[format]
		old, _ := filepath.Glob(filepath.Join(corpusDir(target), "qemu-*"))
		for _, p := range old {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		name := formatName(format)
		for sname, cmds := range samples {
			dir := t.TempDir()
			for _, a := range cmds {
				if craftCommand(t, dir, a) {
					continue
				}
				cmd := exec.Command(a[0], a[1:]...)
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s %s: %v: %v: %s", name, sname, a, err, out)
				}
			}
			p := filepath.Join(dir, "img")
			file, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// The extent files the driver asks for, in its order.
			var extents [][]byte
			if got, code := Info(format, bytesReader(file), int64(len(file)), MinScratch(format)); code == shared.InfoErrNeedExtents {
				for _, e := range got.ExtentList {
					b, err := os.ReadFile(filepath.Join(dir, e.Name))
					if err != nil {
						t.Fatal(err)
					}
					extents = append(extents, b)
				}
			}
			enc, err := encodeFiles(file, extents)
			if err != nil {
				t.Fatalf("%s %s: %v", name, sname, err)
			}
			if len(enc) > infoSeedMax {
				t.Errorf("%s %s: %d bytes encoded, over %d", name, sname, len(enc), infoSeedMax)
				continue
			}
			im, files := decodeFiles(enc)
			got, code, _ := InfoFiles(format, im, im.size, MinScratch(format), files)
			want := qemuInfo(t, p, name)
			if want == nil || code != shared.InfoErrOK {
				t.Errorf("%s %s: info code %d (%s); qemu-img %v", name, sname, code, got.Reason, want != nil)
				continue
			}
			if err := compareInfo(got, want); err != nil {
				if why, ok := infoSeedDivergences[name+"-"+sname]; ok {
					t.Logf("%s %s: %v: kept, %s", name, sname, err, why)
				} else {
					t.Errorf("%s %s: %v", name, sname, err)
					continue
				}
			}
			writeSeed(t, target, name+"-"+sname, enc)
		}
	}
}

// TestInfoSeedCorpora checks that every info target has seeds and that
// its driver accepts every qemu-img seed of its own corpus, its extent
// files given.
func TestInfoSeedCorpora(t *testing.T) {
	for format, target := range infoTargets {
		seeds, err := filepath.Glob(filepath.Join(corpusDir(target), "qemu-*"))
		if err != nil || len(seeds) == 0 {
			t.Errorf("%s has no qemu-img seeds", target)
		}
		for _, p := range seeds {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			in, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(
				strings.TrimPrefix(string(b), "go test fuzz v1\n")), "[]byte("), ")"))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			im, files := decodeFiles([]byte(in))
			if got, code, _ := InfoFiles(format, im, im.size, MinScratch(format), files); code != shared.InfoErrOK {
				t.Errorf("%s: info %d (%s)", p, code, got.Reason)
			}
		}
	}
}
