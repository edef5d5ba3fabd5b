//go:build cgo

package format

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"instar/shared"
)

// recogniseCase is one file and what the recognisers should say of it.
type recogniseCase struct {
	name  string
	tools []string                              // the test fails without them (tools/prereq installs them)
	make  func(t *testing.T, dir string) []byte // the file's bytes
	want  []uint32                              // InspectFmt* that match
	fails []uint32                              // InspectCheck* that fail, sorted
	size  int64                                 // virtual size; -1 for none
}

func runIn(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recQemuImg makes a format's image of size bytes with qemu-img.
func recQemuImg(format, size string) func(t *testing.T, dir string) []byte {
	return func(t *testing.T, dir string) []byte {
		p := filepath.Join(dir, "img")
		runIn(t, dir, "qemu-img", "create", "-q", "-f", format, p, size)
		return readFile(t, p)
	}
}

// edit returns gen's bytes after f changes them.
func edit(gen func(t *testing.T, dir string) []byte, f func(b []byte) []byte) func(t *testing.T, dir string) []byte {
	return func(t *testing.T, dir string) []byte { return f(gen(t, dir)) }
}

func luks(version string) func(t *testing.T, dir string) []byte {
	return func(t *testing.T, dir string) []byte {
		p, k := filepath.Join(dir, "img"), filepath.Join(dir, "key")
		if err := os.WriteFile(k, []byte("pw"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, 0); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(20 << 20)
		f.Close()
		runIn(t, dir, "cryptsetup", "luksFormat", "--type", version, "-q", "--batch-mode", "--key-file", k,
			"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", p)
		return readFile(t, p)
	}
}

// iso makes an ISO 9660 image of one small file with genisoimage.
func iso(extra ...string) func(t *testing.T, dir string) []byte {
	return func(t *testing.T, dir string) []byte {
		src := filepath.Join(dir, "src")
		os.Mkdir(src, 0o755)
		if err := os.WriteFile(filepath.Join(src, "hello.txt"), bytes.Repeat([]byte("hi\n"), 5000), 0o644); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "img.iso")
		runIn(t, dir, "genisoimage", append(append([]string{"-quiet", "-o", p}, extra...), src)...)
		return readFile(t, p)
	}
}

// disk makes a zeroed size-byte file and runs a partitioning tool on it.
func disk(size int64, name string, stdin string, args ...string) func(t *testing.T, dir string) []byte {
	return func(t *testing.T, dir string) []byte {
		p := filepath.Join(dir, "disk")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(name, append(args, p)...)
		cmd.Stdin = bytes.NewReader([]byte(stdin))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return readFile(t, p)
	}
}

var gptDisk = disk(8<<20, "sgdisk", "", "-n", "1:2048:+1M", "-t", "1:8300")
var mbrDisk = disk(8<<20, "sfdisk", "label: dos\n2048,2048,83\n", "-q")

// gptFix recomputes the GPT header's CRC32 after an edit.
func gptFix(f func(b []byte)) func(b []byte) []byte {
	return func(b []byte) []byte {
		f(b)
		h := b[512 : 512+92]
		binary.LittleEndian.PutUint32(h[16:], 0)
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h))
		return b
	}
}

// gptFixArray is gptFix that first recomputes the partition entry
// array's CRC32 (at the header's LBA, count and entry size), and makes
// the backup header and array (just before it) the primary's again.
func gptFixArray(f func(b []byte)) func(b []byte) []byte {
	return gptFix(func(b []byte) {
		f(b)
		le := binary.LittleEndian
		h := b[512:]
		at := le.Uint64(h[72:]) * 512
		n := uint64(le.Uint32(h[80:])) * uint64(le.Uint32(h[84:]))
		le.PutUint32(h[88:], crc32.ChecksumIEEE(b[at:at+n]))
		alt := le.Uint64(h[32:])
		bh := b[alt*512 : alt*512+512]
		copy(bh[80:92], h[80:92])
		bat := alt - (n+511)/512
		le.PutUint64(bh[72:], bat)
		copy(b[bat*512:], b[at:at+n])
		gptFixBackup(b)
	})
}

// gptFixBackup recomputes the backup GPT header's CRC32 after an edit.
func gptFixBackup(b []byte) {
	alt := binary.LittleEndian.Uint64(b[512+32:])
	bh := b[alt*512 : alt*512+92]
	binary.LittleEndian.PutUint32(bh[16:], 0)
	binary.LittleEndian.PutUint32(bh[16:], crc32.ChecksumIEEE(bh))
}

// gptBackup returns the byte offset of the backup header.
func gptBackup(b []byte) int { return int(binary.LittleEndian.Uint64(b[512+32:]) * 512) }

// compressed pipes some text through a compressor.
func compressed(name string, args ...string) func(t *testing.T, dir string) []byte {
	return func(t *testing.T, dir string) []byte {
		cmd := exec.Command(name, args...)
		cmd.Stdin = bytes.NewReader(bytes.Repeat([]byte("not a disk\n"), 1000))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return out
	}
}

func tarOf(first string) func(t *testing.T, dir string) []byte {
	return func(t *testing.T, dir string) []byte {
		for _, n := range []string{first, "disk.vmdk"} {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		runIn(t, dir, "tar", "--format=ustar", "-cf", "a.tar", first, "disk.vmdk")
		return readFile(t, filepath.Join(dir, "a.tar"))
	}
}

func bytesOf(b []byte) func(t *testing.T, dir string) []byte {
	return func(*testing.T, string) []byte { return slices.Clone(b) }
}

// dmgOf is a size-byte file ending in a koly trailer.
func dmgOf(size int) []byte {
	b := make([]byte, size)
	k := b[size-512:]
	copy(k, "koly")
	binary.BigEndian.PutUint32(k[4:], 4)
	binary.BigEndian.PutUint32(k[8:], 512)
	return b
}

func header(magic string, at int, more string, size int) []byte {
	b := make([]byte, size)
	copy(b, magic)
	copy(b[at:], more)
	return b
}

const cloopHead = "#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n"

var recogniseCases = []recogniseCase{
	{name: "zeros", make: bytesOf(make([]byte, 1<<20)), size: -1},
	{name: "empty", make: bytesOf(nil), size: -1},
	{name: "qcow1", tools: []string{"qemu-img"}, make: recQemuImg("qcow", "3M"),
		want: []uint32{shared.InspectFmtQcow}, fails: []uint32{shared.InspectCheckUnknownFeatures}, size: 3 << 20},
	{name: "qcow2 is not qcow1", tools: []string{"qemu-img"}, make: recQemuImg("qcow2", "3M"), size: -1},
	{name: "qed", tools: []string{"qemu-img"}, make: recQemuImg("qed", "5M"),
		want: []uint32{shared.InspectFmtQed}, fails: []uint32{shared.InspectCheckBanned}, size: 5 << 20},
	{name: "vdi", tools: []string{"qemu-img"}, make: recQemuImg("vdi", "7M"),
		want: []uint32{shared.InspectFmtVdi}, size: 7 << 20},
	{name: "vdi image type 9 (qemu does not check it)", tools: []string{"qemu-img"},
		make: edit(recQemuImg("vdi", "7M"), func(b []byte) []byte { b[0x4c] = 9; return b }),
		want: []uint32{shared.InspectFmtVdi}, size: 7 << 20},
	{name: "vdi version 2", tools: []string{"qemu-img"},
		make: edit(recQemuImg("vdi", "7M"), func(b []byte) []byte { b[0x46] = 2; return b }),
		want: []uint32{shared.InspectFmtVdi}, fails: []uint32{shared.InspectCheckOpen}, size: -1},
	{name: "vdi truncated", make: bytesOf(func() []byte {
		b := make([]byte, 0x100)
		binary.LittleEndian.PutUint32(b[0x40:], 0xbeda107f)
		return b
	}()), want: []uint32{shared.InspectFmtVdi}, fails: []uint32{shared.InspectCheckOpen}, size: -1},
	{name: "luks1", tools: []string{"cryptsetup", "qemu-img"}, make: luks("luks1"), want: []uint32{shared.InspectFmtLuks}, size: qemuSize},
	{name: "luks1 of an odd size", tools: []string{"cryptsetup", "qemu-img"},
		make: edit(luks("luks1"), func(b []byte) []byte { return append(b, make([]byte, 100)...) }),
		want: []uint32{shared.InspectFmtLuks}, size: qemuSize},
	{name: "luks1 payload at the end", tools: []string{"cryptsetup", "qemu-img"},
		make: edit(luks("luks1"), func(b []byte) []byte { return b[:int(binary.BigEndian.Uint32(b[104:]))*512] }),
		want: []uint32{shared.InspectFmtLuks}, size: qemuSize},
	{name: "luks1 payload past the end", tools: []string{"cryptsetup", "qemu-img"},
		make: edit(luks("luks1"), func(b []byte) []byte { return b[:1<<20] }),
		want: []uint32{shared.InspectFmtLuks}, fails: []uint32{shared.InspectCheckOpen}, size: qemuSize},
	{name: "luks1 payload offset 2^32-1", tools: []string{"cryptsetup", "qemu-img"},
		make: edit(luks("luks1"), func(b []byte) []byte { binary.BigEndian.PutUint32(b[104:], 0xffffffff); return b }),
		want: []uint32{shared.InspectFmtLuks}, fails: []uint32{shared.InspectCheckOpen}, size: qemuSize},
	{name: "luks1 header cut short", make: bytesOf([]byte("LUKS\xba\xbe\x00\x01")),
		want: []uint32{shared.InspectFmtLuks}, fails: []uint32{shared.InspectCheckOpen}, size: -1},
	{name: "luks2 (qemu 7.2 reads it as raw)", tools: []string{"cryptsetup"}, make: luks("luks2"),
		want: []uint32{shared.InspectFmtLuks}, fails: []uint32{shared.InspectCheckVersion}, size: -1},
	{name: "luks version 3", tools: []string{"cryptsetup"},
		make: edit(luks("luks2"), func(b []byte) []byte { b[7] = 3; return b }),
		want: []uint32{shared.InspectFmtLuks}, fails: []uint32{shared.InspectCheckVersion}, size: -1},
	{name: "luks version 0", tools: []string{"cryptsetup"},
		make: edit(luks("luks1"), func(b []byte) []byte { b[7] = 0; return b }),
		want: []uint32{shared.InspectFmtLuks}, fails: []uint32{shared.InspectCheckVersion}, size: -1},
	{name: "parallels", tools: []string{"qemu-img"}, make: recQemuImg("parallels", "2M"),
		want: []uint32{shared.InspectFmtParallels}, fails: []uint32{shared.InspectCheckBanned}, size: 2 << 20},
	{name: "parallels old signature", tools: []string{"qemu-img"},
		make: edit(recQemuImg("parallels", "2M"), func(b []byte) []byte { copy(b, "WithoutFreeSpace"); return b }),
		want: []uint32{shared.InspectFmtParallels}, fails: []uint32{shared.InspectCheckBanned}, size: 2 << 20},
	{name: "bochs", make: bytesOf(header("Bochs Virtual HD Image", 64, "Redolog", 512)),
		want: []uint32{shared.InspectFmtBochs}, fails: []uint32{shared.InspectCheckBanned}, size: -1},
	{name: "cloop", make: bytesOf(header(cloopHead, 0, "", 1024)),
		want: []uint32{shared.InspectFmtCloop}, fails: []uint32{shared.InspectCheckBanned}, size: -1},
	{name: "dmg small", make: bytesOf(dmgOf(4096)),
		want: []uint32{shared.InspectFmtDmg}, fails: []uint32{shared.InspectCheckBanned}, size: -1},
	{name: "dmg past the head", make: bytesOf(dmgOf(1 << 20)),
		want: []uint32{shared.InspectFmtDmg}, fails: []uint32{shared.InspectCheckBanned}, size: -1},
	{name: "iso", tools: []string{"genisoimage", "qemu-img"}, make: iso(), want: []uint32{shared.InspectFmtIso}, size: qemuSize},
	{name: "iso udf", tools: []string{"genisoimage", "qemu-img"}, make: iso("-udf"), want: []uint32{shared.InspectFmtIso}, size: qemuSize},
	{name: "iso of an odd size", tools: []string{"genisoimage", "qemu-img"},
		make: edit(iso(), func(b []byte) []byte { return append(b, 1, 2, 3) }), want: []uint32{shared.InspectFmtIso}, size: qemuSize},
	{name: "iso halves disagree", tools: []string{"genisoimage", "qemu-img"},
		make: edit(iso(), func(b []byte) []byte { b[32768+80]++; return b }), want: []uint32{shared.InspectFmtIso}, size: qemuSize},
	{name: "udf only", tools: []string{"qemu-img"}, make: bytesOf(func() []byte {
		b := make([]byte, 40960)
		copy(b[32768+1:], "BEA01")
		copy(b[32768+2048+1:], "NSR02")
		return b
	}()), want: []uint32{shared.InspectFmtIso}, size: qemuSize},
	{name: "gpt", tools: []string{"sgdisk"}, make: gptDisk, want: []uint32{shared.InspectFmtGpt}, size: -1},
	{name: "mbr", tools: []string{"sfdisk"}, make: mbrDisk, want: []uint32{shared.InspectFmtGpt}, size: -1},
	{name: "mbr bad boot flag", tools: []string{"sfdisk"},
		make: edit(mbrDisk, func(b []byte) []byte { b[446] = 0x7f; return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "mbr empty table", tools: []string{"sfdisk"},
		make: edit(mbrDisk, func(b []byte) []byte { clear(b[446:510]); return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt protective CHS", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte { b[446+2] = 3; return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt protective LBA", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte { b[446+8] = 2; return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt partition beside protective", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte { copy(b[462:478], b[446:462]); b[462+4] = 0x83; return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt header CRC", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte { b[512+40]++; return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt header missing", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte { clear(b[512:1024]); return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt header size 600", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte { binary.LittleEndian.PutUint32(b[512+12:], 600); return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt my_lba 5", tools: []string{"sgdisk"},
		make: edit(gptDisk, gptFix(func(b []byte) { binary.LittleEndian.PutUint64(b[512+24:], 5) })),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt entries past the end", tools: []string{"sgdisk"},
		make: edit(gptDisk, gptFix(func(b []byte) { binary.LittleEndian.PutUint64(b[512+72:], 1<<40) })),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt entry array too long", tools: []string{"sgdisk"},
		make: edit(gptDisk, gptFix(func(b []byte) { binary.LittleEndian.PutUint32(b[512+80:], 1<<20) })),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt entry array CRC", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte { b[1024+56]++; return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt entry array CRC fixed", tools: []string{"sgdisk"},
		make: edit(gptDisk, gptFixArray(func(b []byte) { b[1024+56]++ })),
		want: []uint32{shared.InspectFmtGpt}, size: -1},
	{name: "gpt entries of 256 bytes", tools: []string{"sgdisk"},
		make: edit(gptDisk, gptFixArray(func(b []byte) {
			binary.LittleEndian.PutUint32(b[512+80:], 64)
			binary.LittleEndian.PutUint32(b[512+84:], 256)
		})),
		want: []uint32{shared.InspectFmtGpt}, size: -1},
	{name: "gpt entry size 100", tools: []string{"sgdisk"},
		make: edit(gptDisk, gptFixArray(func(b []byte) { binary.LittleEndian.PutUint32(b[512+84:], 100) })),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt entry size 8192", tools: []string{"sgdisk"},
		make: edit(gptDisk, gptFix(func(b []byte) { binary.LittleEndian.PutUint32(b[512+84:], 8192) })),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt entry array of 1 MiB", tools: []string{"sgdisk"},
		make: edit(disk(8<<20, "sgdisk", "", "-n", "1:4096:+1M", "-t", "1:8300"), gptFixArray(func(b []byte) {
			binary.LittleEndian.PutUint32(b[512+80:], 8192)
		})),
		want: []uint32{shared.InspectFmtGpt}, size: -1},
	{name: "gpt entry array over 1 MiB", tools: []string{"sgdisk"},
		make: edit(gptDisk, gptFix(func(b []byte) { binary.LittleEndian.PutUint32(b[512+80:], 8193) })),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt disk grown", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte { return append(b, make([]byte, 1<<20)...) }),
		want: []uint32{shared.InspectFmtGpt}, size: -1},
	{name: "gpt backup missing", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte { clear(b[gptBackup(b):][:512]); return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt backup CRC", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte { b[gptBackup(b)+40]++; return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt backup disk GUID", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte { b[gptBackup(b)+60]++; gptFixBackup(b); return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt backup last usable LBA", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte { b[gptBackup(b)+48]--; gptFixBackup(b); return b }),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt backup not pointing back", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[gptBackup(b)+32:], 2)
			gptFixBackup(b)
			return b
		}),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt backup entry array CRC", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte {
			at := binary.LittleEndian.Uint64(b[gptBackup(b)+72:]) * 512
			b[at+56]++
			return b
		}),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt backup entry array past the end", tools: []string{"sgdisk"},
		make: edit(gptDisk, func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[gptBackup(b)+72:], 1<<40)
			gptFixBackup(b)
			return b
		}),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "gpt backup past the end", tools: []string{"sgdisk"},
		make: edit(gptDisk, gptFix(func(b []byte) { binary.LittleEndian.PutUint64(b[512+32:], 1<<40) })),
		want: []uint32{shared.InspectFmtGpt}, fails: []uint32{shared.InspectCheckMbr}, size: -1},
	{name: "fat is not an mbr", tools: []string{"mkfs.fat"}, make: func(t *testing.T, dir string) []byte {
		p := filepath.Join(dir, "fat")
		runIn(t, dir, "mkfs.fat", "-C", p, "4096")
		return readFile(t, p)
	}, size: -1},
	{name: "gzip", tools: []string{"gzip"}, make: compressed("gzip", "-c"),
		want: []uint32{shared.InspectFmtGzip}, fails: []uint32{shared.InspectCheckContainer}, size: -1},
	{name: "xz", tools: []string{"xz"}, make: compressed("xz", "-c"),
		want: []uint32{shared.InspectFmtXz}, fails: []uint32{shared.InspectCheckContainer}, size: -1},
	{name: "zstd", tools: []string{"zstd"}, make: compressed("zstd", "-c", "-q"),
		want: []uint32{shared.InspectFmtZstd}, fails: []uint32{shared.InspectCheckContainer}, size: -1},
	{name: "bzip2", tools: []string{"bzip2"}, make: compressed("bzip2", "-c"),
		want: []uint32{shared.InspectFmtBzip2}, fails: []uint32{shared.InspectCheckContainer}, size: -1},
	{name: "bzip2 magic without a block", make: bytesOf([]byte("BZh9not a block")), size: -1},
	{name: "tar", tools: []string{"tar"}, make: tarOf("README"),
		want: []uint32{shared.InspectFmtTar}, fails: []uint32{shared.InspectCheckContainer}, size: -1},
	{name: "ova", tools: []string{"tar"}, make: tarOf("appliance.ovf"),
		want: []uint32{shared.InspectFmtOva}, fails: []uint32{shared.InspectCheckContainer}, size: -1},
	{name: "tar bad checksum", tools: []string{"tar"},
		make: edit(tarOf("README"), func(b []byte) []byte { b[0] = 'Q'; return b }), size: -1},
}

// qemuSize as a case's size: the virtual size qemu-img info reports for
// the file (none when it refuses to open it).
const qemuSize = -2

// qemuOpenSize is qemu-img info's virtual size of the file b, or -1
// when qemu-img refuses it.
func qemuOpenSize(t *testing.T, b []byte) int64 {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(qemuImg, "info", "--output=json", p).Output()
	if err != nil {
		return -1
	}
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info.VirtualSize
}

func TestRecognise(t *testing.T) {
	if RecogniserCount() != 16 {
		t.Fatalf("%d recognisers", RecogniserCount())
	}
	for _, c := range recogniseCases {
		t.Run(c.name, func(t *testing.T) {
			for _, tool := range c.tools {
				if _, err := exec.LookPath(tool); err != nil {
					t.Fatalf("%s is needed (mage check installs it): %v", tool, err)
				}
			}
			b := c.make(t, t.TempDir())
			var got, fails []uint32
			var size int64 = -1
			for i := range RecogniserCount() {
				res, ok := Recognise(i, bytes.NewReader(b), int64(len(b)), 64<<10)
				if !ok {
					t.Fatalf("recogniser %d did not run", i)
				}
				if res.Reads.OutOfBounds != "" {
					t.Fatalf("%s: %s", shared.InspectFormatNames[res.Format], res.Reads.OutOfBounds)
				}
				if !res.Matched {
					if len(res.Failures) != 0 || res.HasVirtualSize {
						t.Fatalf("%s did not match but reported", shared.InspectFormatNames[res.Format])
					}
					continue
				}
				got = append(got, res.Format)
				for _, f := range res.Failures {
					t.Logf("%s: %s: %s", shared.InspectFormatNames[res.Format], shared.InspectChecks[f.Check].Name, f.Reason)
					if f.Reason == "" {
						t.Errorf("check %d failed without a reason", f.Check)
					}
					if !slices.Contains(fails, f.Check) {
						fails = append(fails, f.Check)
					}
				}
				if res.HasVirtualSize {
					size = int64(res.VirtualSize)
				}
			}
			slices.Sort(got)
			slices.Sort(fails)
			if !slices.Equal(got, c.want) {
				t.Errorf("matched %v, want %v", got, c.want)
			}
			if !slices.Equal(fails, c.fails) {
				t.Errorf("failed checks %v, want %v", fails, c.fails)
			}
			want := c.size
			if want == qemuSize {
				want = qemuOpenSize(t, b)
			}
			if size != want {
				t.Errorf("virtual size %d, want %d", size, want)
			}
		})
	}
}

// FuzzRecognise runs every recogniser's match, and the check of those
// that match, on the input: no read outside the file, no report from a
// recogniser that did not match, every failure with a reason.
func FuzzRecognise(f *testing.F) {
	for _, c := range recogniseCases {
		if c.tools != nil {
			continue
		}
		b := c.make(nil, "")
		if len(b) > 64<<10 {
			b = b[:64<<10]
		}
		f.Add(b)
	}
	f.Add(header("LUKS\xba\xbe\x00\x01", 0, "", 1024))
	f.Add(header("QFI\xfb\x00\x00\x00\x01", 0, "", 48))
	f.Add(header("QED\x00", 0, "", 64))
	mbr := make([]byte, 2048)
	mbr[510], mbr[511] = 0x55, 0xAA
	copy(mbr[446:], []byte{0, 0, 2, 0, 0xEE, 0, 0, 0, 1, 0, 0, 0, 0xff, 0, 0, 0})
	copy(mbr[512:], "EFI PART")
	f.Add(mbr)
	f.Fuzz(func(t *testing.T, in []byte) {
		for i := range RecogniserCount() {
			res, ok := Recognise(i, bytes.NewReader(in), int64(len(in)), 64<<10)
			if !ok {
				t.Fatalf("recogniser %d did not run", i)
			}
			if res.Reads.OutOfBounds != "" {
				t.Fatalf("%s: %s", shared.InspectFormatNames[res.Format], res.Reads.OutOfBounds)
			}
			if !res.Matched && (len(res.Failures) != 0 || res.HasVirtualSize) {
				t.Fatalf("%s did not match but reported", shared.InspectFormatNames[res.Format])
			}
			for _, fl := range res.Failures {
				if fl.Check >= shared.InspectCheckCount || fl.Reason == "" {
					t.Fatalf("%s: failure %+v", shared.InspectFormatNames[res.Format], fl)
				}
			}
		}
	})
}

// readLog is a file of size bytes, zeros but for tail at its end, that
// records every read asked of it.
type readLog struct {
	size  int64
	tail  []byte
	reads [][2]int64 // offset, length
}

func (f *readLog) ReadAt(p []byte, off int64) (int, error) {
	f.reads = append(f.reads, [2]int64{off, int64(len(p))})
	clear(p)
	for i := range p {
		if at := off + int64(i) - (f.size - int64(len(f.tail))); at >= 0 && at < int64(len(f.tail)) {
			p[i] = f.tail[at]
		}
	}
	return len(p), nil
}

// TestRecogniseReadsBounded: a recogniser's match reads nothing beyond
// the head, except dmg's, which asks for exactly the file's last 512
// bytes once, and only when they are not in the head; a dmg's check
// reads nothing. Inspect over a 1 TiB dmg makes the head read and that
// one trailer read, nothing else.
func TestRecogniseReadsBounded(t *testing.T) {
	const head = 64 << 10
	koly := dmgOf(512)
	for _, size := range []int64{512, 4096, head, head + 1, 1 << 20, 1 << 40} {
		for i := range RecogniserCount() {
			for _, tail := range [][]byte{nil, koly} {
				f := &readLog{size: size, tail: tail}
				res, ok := Recognise(i, f, size, 64<<10)
				if !ok || res.Reads.OutOfBounds != "" {
					t.Fatalf("size %d recogniser %d: %v %s", size, i, ok, res.Reads.OutOfBounds)
				}
				want := [][2]int64{{0, min(size, head)}}
				if res.Format == shared.InspectFmtDmg && size > head {
					want = append(want, [2]int64{size - 512, 512})
				}
				if res.Format == shared.InspectFmtDmg && res.Matched != (tail != nil) {
					t.Errorf("size %d: dmg matched %v with trailer %v", size, res.Matched, tail != nil)
				}
				if !slices.Equal(f.reads, want) {
					t.Errorf("size %d %s (trailer %v, matched %v): reads %v, want %v", size,
						shared.InspectFormatNames[res.Format], tail != nil, res.Matched, f.reads, want)
				}
			}
		}
	}
	f := &readLog{size: 1 << 40, tail: koly}
	res, err := Inspect(f, f.size)
	if err != nil || res.Format != shared.InspectFmtDmg {
		t.Fatalf("%+v %v", res, err)
	}
	if want := [][2]int64{{0, head}, {1<<40 - 512, 512}}; !slices.Equal(f.reads, want) {
		t.Errorf("inspect of a 1 TiB dmg: reads %v, want %v", f.reads, want)
	}
}
