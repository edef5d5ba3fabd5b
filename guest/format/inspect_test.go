//go:build cgo

package format

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"instar/guest/format/vmdktest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"instar/shared"
)

// inspectFile inspects the file at path.
func inspectFile(t *testing.T, path string) InspectResult {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Inspect(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// runQemuImg runs qemu-img with args, failing the test on an error.
func runQemuImg(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(qemuImg, args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
}

// inspectCase is one image made with qemu-img, perhaps edited, and the
// checks it must fail (none: safe).
type inspectCase struct {
	name   string
	format uint32
	// make creates the image at img (in its own directory, the
	// working directory of qemu-img) and edits it.
	make  func(t testing.TB, dir, img string)
	fails []uint32
}

// create returns a make that runs qemu-img create with args and the
// image name then size.
func create(size string, args ...string) func(t testing.TB, dir, img string) {
	return func(t testing.TB, dir, img string) {
		runQemuImgIn(t, dir, append(append([]string{"create", "-q"}, args...), img, size)...)
	}
}

// edited returns a make that runs mk then edit on the image's bytes.
func edited(mk func(t testing.TB, dir, img string), edit func(t testing.TB, b []byte) []byte) func(t testing.TB, dir, img string) {
	return func(t testing.TB, dir, img string) {
		mk(t, dir, img)
		p := filepath.Join(dir, img)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, edit(t, b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runQemuImgIn(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(qemuImg, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
}

// replace replaces old by new (the same length) in b, once.
func replace(old, new string) func(t testing.TB, b []byte) []byte {
	return func(t testing.TB, b []byte) []byte {
		t.Helper()
		if len(old) != len(new) {
			t.Fatalf("replace %q by %q: lengths differ", old, new)
		}
		i := bytes.Index(b, []byte(old))
		if i < 0 {
			t.Fatalf("%q not in the image", old)
		}
		copy(b[i:], new)
		return b
	}
}

// be32 and le64 set fields.
func setBE32(off int, v uint32) func(t testing.TB, b []byte) []byte {
	return func(t testing.TB, b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return b }
}

func setBE64(off int, v uint64) func(t testing.TB, b []byte) []byte {
	return func(t testing.TB, b []byte) []byte { binary.BigEndian.PutUint64(b[off:], v); return b }
}

func setLE64(off int, v uint64) func(t testing.TB, b []byte) []byte {
	return func(t testing.TB, b []byte) []byte { binary.LittleEndian.PutUint64(b[off:], v); return b }
}

// vpcType sets a dynamic vpc's disk type and its footer checksum.
func vpcType(dt uint32) func(t testing.TB, b []byte) []byte {
	return func(t testing.TB, b []byte) []byte {
		for _, off := range []int{0, len(b) - 512} {
			f := b[off : off+512]
			binary.BigEndian.PutUint32(f[60:], dt)
			binary.BigEndian.PutUint32(f[64:], 0)
			var sum uint32
			for _, c := range f[:512] {
				sum += uint32(c)
			}
			binary.BigEndian.PutUint32(f[64:], ^sum)
		}
		return b
	}
}

// vpcMaxEntries sets a dynamic vpc's block table length and the dynamic
// header's checksum.
func vpcMaxEntries(n uint32) func(t testing.TB, b []byte) []byte {
	return func(t testing.TB, b []byte) []byte {
		d := b[512 : 512+1024]
		binary.BigEndian.PutUint32(d[28:], n)
		binary.BigEndian.PutUint32(d[36:], 0)
		var sum uint32
		for _, c := range d {
			sum += uint32(c)
		}
		binary.BigEndian.PutUint32(d[36:], ^sum)
		return b
	}
}

// vhdxLogGUID sets both vhdx headers' log GUID and their CRC-32C.
func vhdxLogGUID(t testing.TB, b []byte) []byte {
	for _, off := range []int{64 << 10, 128 << 10} {
		h := b[off : off+4096]
		for i := 48; i < 64; i++ {
			h[i] = byte(i)
		}
		binary.LittleEndian.PutUint32(h[4:], 0)
		binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(h, crc32.MakeTable(crc32.Castagnoli)))
	}
	return b
}

// vhdxSize sets a vhdx's virtual disk size metadata item (found by its
// GUID in the metadata table).
func vhdxSize(size uint64) func(t testing.TB, b []byte) []byte {
	return func(t testing.TB, b []byte) []byte {
		t.Helper()
		// 2FA54224-CD1B-4876-B211-5DBED83BF4B8, as stored.
		guid := []byte{0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48, 0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8}
		meta := bytes.Index(b, []byte("metadata"))
		i := -1
		if meta >= 0 {
			i = bytes.Index(b[meta:min(len(b), meta+64<<10)], guid)
		}
		if i < 0 {
			t.Fatal("no virtual disk size item")
		}
		off := binary.LittleEndian.Uint32(b[meta+i+16:])
		binary.LittleEndian.PutUint64(b[meta+int(off):], size)
		return b
	}
}

// vhdxParent makes a qemu-img vhdx a differencing one, as qemu-img cannot
// (it has no vhdx backing files): hasParent sets HasParent in the file
// parameters item, locator adds a parent locator item (IsVirtualDisk,
// IsRequired) to the metadata table. The metadata region has no
// checksum, so no CRC needs fixing.
func vhdxParent(hasParent, locator bool) func(t testing.TB, b []byte) []byte {
	return func(t testing.TB, b []byte) []byte {
		t.Helper()
		fp := []byte{0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d, 0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b}
		pl := []byte{0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45, 0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c}
		m := bytes.Index(b, []byte("metadata"))
		if m < 0 {
			t.Fatal("no metadata table")
		}
		count := int(binary.LittleEndian.Uint16(b[m+10:]))
		fpOff := -1
		for i := range count {
			if e := b[m+32+32*i:]; bytes.Equal(e[:16], fp) {
				fpOff = int(binary.LittleEndian.Uint32(e[16:]))
			}
		}
		if fpOff < 0 {
			t.Fatal("no file parameters item")
		}
		if hasParent {
			flags := b[m+fpOff+4:]
			binary.LittleEndian.PutUint32(flags, binary.LittleEndian.Uint32(flags)|2)
		}
		if locator {
			e := b[m+32+32*count:]
			copy(e, pl)
			binary.LittleEndian.PutUint32(e[16:], uint32(fpOff+4096))
			binary.LittleEndian.PutUint32(e[20:], 64)
			binary.LittleEndian.PutUint32(e[24:], 6)
			binary.LittleEndian.PutUint16(b[m+10:], uint16(count+1))
		}
		return b
	}
}

// streamFooter gives a streamOptimized vmdk its grain directory at the
// end, as VMware writes it: a footer marker, the header with the real
// directory offset, and the end-of-stream marker. bad spoils one.
func streamFooter(bad string) func(t testing.TB, b []byte) []byte {
	return func(t testing.TB, b []byte) []byte {
		h := slices.Clone(b[:512])
		b = b[:len(b)-512] // qemu's end-of-stream marker
		marker := make([]byte, 512)
		binary.LittleEndian.PutUint64(marker, 1)
		binary.LittleEndian.PutUint32(marker[12:], 3)
		footer := slices.Clone(h)
		eos := make([]byte, 512)
		switch bad {
		case "marker":
			binary.LittleEndian.PutUint32(marker[12:], 2)
		case "footer":
			binary.LittleEndian.PutUint64(footer[12:], 1<<20)
		case "eos":
			eos[0] = 1
		case "eos type":
			binary.LittleEndian.PutUint32(eos[12:], 1)
		case "magic":
			footer[0] = 'X'
		}
		binary.LittleEndian.PutUint64(b[56:], ^uint64(0))
		b = append(append(append(b, marker...), footer...), eos...)
		return b
	}
}

// cowd returns a make that writes a COWD file of these sectors and grain
// (cowdFile's), edited.
func cowd(sectors, grain uint32, edit func(t testing.TB, b []byte) []byte) func(t testing.TB, dir, img string) {
	return func(t testing.TB, dir, img string) {
		b := vmdktest.COWD(sectors, grain)
		if edit != nil {
			b = edit(t, b)
		}
		if err := os.WriteFile(filepath.Join(dir, img), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func setLE32(off int, v uint32) func(t testing.TB, b []byte) []byte {
	return func(t testing.TB, b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b }
}

// appendDesc adds line to the end of a COWD file's text at sector 1.
func appendDesc(line string) func(t testing.TB, b []byte) []byte {
	return func(t testing.TB, b []byte) []byte {
		end := 512 + bytes.IndexByte(b[512:], 0)
		copy(b[end:], line)
		return b
	}
}

func inspectCases() []inspectCase {
	q, vm := uint32(shared.InspectFmtQcow2), uint32(shared.InspectFmtVmdk)
	qc := func(opts string) func(t testing.TB, dir, img string) { return create("16M", "-f", "qcow2", "-o", opts) }
	return []inspectCase{
		{"raw", shared.InspectFmtRaw, create("1M", "-f", "raw"), nil},
		{"qcow2 compat 0.10", q, qc("compat=0.10"), nil},
		{"qcow2 compat 1.1", q, qc("compat=1.1"), nil},
		{"qcow2 cluster 512", q, qc("cluster_size=512"), nil},
		{"qcow2 cluster 2M", q, qc("cluster_size=2M"), nil},
		{"qcow2 lazy refcounts", q, qc("lazy_refcounts=on"), nil},
		{"qcow2 extended l2", q, qc("extended_l2=on"), nil},
		{"qcow2 zstd refcount 1", q, qc("compression_type=zstd,refcount_bits=1"), nil},
		{"qcow2 large", q, create("2T", "-f", "qcow2"), nil},
		{"vmdk monolithicSparse", vm, create("16M", "-f", "vmdk"), nil},
		{"vmdk streamOptimized", vm, create("16M", "-f", "vmdk", "-o", "subformat=streamOptimized"), nil},
		{"vmdk streamOptimized footer", vm, edited(create("16M", "-f", "vmdk", "-o", "subformat=streamOptimized"), streamFooter("")), nil},
		{"vmdk cowd", vm, cowd(20480, 8, nil), nil},
		{"vpc dynamic", shared.InspectFmtVpc, create("16M", "-f", "vpc"), nil},
		{"vpc fixed is raw", shared.InspectFmtRaw, create("16M", "-f", "vpc", "-o", "subformat=fixed"), nil},
		{"vhdx dynamic", shared.InspectFmtVhdx, create("16M", "-f", "vhdx"), nil},
		{"vhdx fixed", shared.InspectFmtVhdx, create("16M", "-f", "vhdx", "-o", "subformat=fixed"), nil},

		{"qcow2 backing", q, create("16M", "-f", "qcow2", "-u", "-b", "base.raw", "-F", "raw"),
			[]uint32{shared.InspectCheckBackingFile}},
		{"qcow2 backing protocol", q, create("16M", "-f", "qcow2", "-u", "-b", "nbd:host:10809", "-F", "raw"),
			[]uint32{shared.InspectCheckBackingFile, shared.InspectCheckProtocol}},
		{"qcow2 backing path with colon", q, create("16M", "-f", "qcow2", "-u", "-b", "./a:b", "-F", "raw"),
			[]uint32{shared.InspectCheckBackingFile}},
		{"qcow2 data file", q, qc("data_file=data.raw"), []uint32{shared.InspectCheckDataFile}},
		{"qcow2 data file protocol", q, edited(qc("data_file=./x:data.raw"), replace("./x:data.raw", "nbd:data.raw")),
			[]uint32{shared.InspectCheckDataFile, shared.InspectCheckProtocol}},
		{"qcow2 data file extension without bit", q, edited(qc("data_file=data.raw"), setBE64(72, 0)),
			[]uint32{shared.InspectCheckDataFile, shared.InspectCheckDataFileExtension}},
		{"qcow2 data file bit without extension", q, edited(qc("compat=1.1"), setBE64(72, 4)),
			[]uint32{shared.InspectCheckDataFile, shared.InspectCheckDataFileExtension}},
		{"qcow2 version 4", q, edited(qc("compat=1.1"), setBE32(4, 4)),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckUnknownFeatures}},
		{"qcow2 unknown incompatible feature", q, edited(qc("compat=1.1"), setBE64(72, 1<<20)),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckUnknownFeatures}},
		{"qcow2 size beyond l1", q, edited(qc("compat=1.1"), setBE64(24, 1<<40)),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckVirtualSize}},

		{"vmdk monolithicFlat", vm, create("1M", "-f", "vmdk", "-o", "subformat=monolithicFlat"),
			[]uint32{shared.InspectCheckDescriptor, shared.InspectCheckDescriptor}},
		{"vmdk monolithicFlat naming a host file", vm, edited(create("1M", "-f", "vmdk", "-o", "subformat=monolithicFlat"),
			replace(`"img-flat.vmdk"`, `"/etc/passwd_x"`)),
			[]uint32{shared.InspectCheckDescriptor, shared.InspectCheckDescriptor, shared.InspectCheckDescriptor}},
		{"vmdk extra extent", vm, edited(create("16M", "-f", "vmdk"), replace("# The Disk Data Base", `RW 1 SPARSE "x.vmdk"`)),
			[]uint32{shared.InspectCheckDescriptor}},
		{"vmdk twoGbMaxExtentSparse", vm, create("1M", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse"),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckDescriptor}},
		{"vmdk create type", vm, edited(create("16M", "-f", "vmdk"), replace(`createType="monolithicSparse"`, `createType="vmfsSparse"      `)),
			[]uint32{shared.InspectCheckDescriptor}},
		{"vmdk bad line", vm, edited(create("16M", "-f", "vmdk"), replace("# Disk DescriptorFile", "X Disk DescriptorFile")),
			[]uint32{shared.InspectCheckDescriptor}},
		{"vmdk extent elsewhere", vm, edited(create("16M", "-f", "vmdk"), replace(`"img.vmdk"`, `"/mg.vmdk"`)),
			[]uint32{shared.InspectCheckDescriptor}},
		{"vmdk no extent", vm, edited(create("16M", "-f", "vmdk"), replace(`RW 32768 SPARSE`, `#W 32768 SPARSE`)),
			[]uint32{shared.InspectCheckDescriptor}},
		{"vmdk descriptor elsewhere", vm, edited(create("16M", "-f", "vmdk"), setLE64(28, 2)),
			[]uint32{shared.InspectCheckDescriptor}},
		{"vmdk parent", vm, edited(create("16M", "-f", "vmdk"), replace(`parentCID=ffffffff`, `parentCID=12345678`)),
			[]uint32{shared.InspectCheckBackingFile}},
		{"vmdk parent hint", vm, edited(create("16M", "-f", "vmdk"), replace("ddb.virtualHWVersion", "parentFileNameHint  ")),
			[]uint32{shared.InspectCheckBackingFile}},
		{"vmdk footer marker", vm, edited(create("16M", "-f", "vmdk", "-o", "subformat=streamOptimized"), streamFooter("marker")),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckFooter}},
		{"vmdk footer mismatch", vm, edited(create("16M", "-f", "vmdk", "-o", "subformat=streamOptimized"), streamFooter("footer")),
			[]uint32{shared.InspectCheckFooter}},
		{"vmdk footer header", vm, edited(create("16M", "-f", "vmdk", "-o", "subformat=streamOptimized"), streamFooter("magic")),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckFooter}},
		{"vmdk end of stream type", vm, edited(create("16M", "-f", "vmdk", "-o", "subformat=streamOptimized"), streamFooter("eos type")),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckFooter}},
		{"vmdk end of stream", vm, edited(create("16M", "-f", "vmdk", "-o", "subformat=streamOptimized"), streamFooter("eos")),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckFooter}},
		{"vmdk cowd parent", vm, cowd(20480, 8, replace("parentCID=ffffffff", "parentCID=12345678")),
			[]uint32{shared.InspectCheckBackingFile}},
		{"vmdk cowd parent hint", vm, cowd(20480, 8, appendDesc("parentFileNameHint=\"base.vmdk\"\n")),
			[]uint32{shared.InspectCheckBackingFile}},
		{"vmdk cowd empty parent hint", vm, cowd(20480, 8, appendDesc("parentFileNameHint=\"\"\n")),
			[]uint32{shared.InspectCheckBackingFile}},
		{"vmdk cowd beyond its directory", vm, cowd(40000, 8, setLE32(24, 1)),
			[]uint32{shared.InspectCheckVirtualSize}},
		{"vmdk cowd grain 0", vm, cowd(2048, 8, setLE32(16, 0)),
			[]uint32{shared.InspectCheckVirtualSize}},

		{"vpc differencing", shared.InspectFmtVpc, edited(create("16M", "-f", "vpc"), vpcType(4)),
			[]uint32{shared.InspectCheckBackingFile}},
		{"vpc size beyond the bat", shared.InspectFmtVpc, edited(create("16M", "-f", "vpc"), vpcMaxEntries(2)),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckVirtualSize}},
		{"vhdx size beyond the bat", shared.InspectFmtVhdx, edited(create("16M", "-f", "vhdx"), vhdxSize(1<<40)),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckVirtualSize}},
		{"vhdx log guid", shared.InspectFmtVhdx, edited(create("16M", "-f", "vhdx"), vhdxLogGUID),
			[]uint32{shared.InspectCheckDirtyLog}},
		{"vhdx differencing (parent locator)", shared.InspectFmtVhdx, edited(create("16M", "-f", "vhdx"), vhdxParent(true, true)),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckBackingFile}},
		{"vhdx parent locator only", shared.InspectFmtVhdx, edited(create("16M", "-f", "vhdx"), vhdxParent(false, true)),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckBackingFile}},
		{"vhdx HasParent without a locator", shared.InspectFmtVhdx, edited(create("16M", "-f", "vhdx"), vhdxParent(true, false)),
			[]uint32{shared.InspectCheckOpen, shared.InspectCheckBackingFile}},
	}
}

func TestInspect(t *testing.T) {
	needQemuImg(t)
	for _, c := range inspectCases() {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.make(t, dir, "img.vmdk")
			res := inspectFile(t, filepath.Join(dir, "img.vmdk"))
			var got []uint32
			for _, f := range res.Failures {
				got = append(got, f.Check)
			}
			if res.Format != c.format || !slices.Equal(got, c.fails) {
				t.Errorf("format %d failures %+v; want format %d checks %v", res.Format, res.Failures, c.format, c.fails)
			}
			if c.format != shared.InspectFmtRaw && len(c.fails) == 0 && !res.HasVirtualSize {
				t.Errorf("no virtual size")
			}
		})
	}
}
