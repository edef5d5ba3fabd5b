// Package vmdktest makes the vmdk files qemu-img cannot create (VMware's
// COWD, ESXi's seSparse, descriptors of any createType), as qemu 7.2's
// vmdk driver reads them, for the guest's and the command's tests.
package vmdktest

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// COWD is a VMware COWD sparse file as qemu's vmdk_open_vmfs_sparse reads
// it: its header (version, flags, disk sectors, granularity, L1 offset and
// size), and the CIDs qemu looks for at sector 1.
func COWD(sectors, grain uint32) []byte {
	f := make([]byte, 4096)
	copy(f, "COWD")
	le := binary.LittleEndian
	le.PutUint32(f[4:], 1)
	le.PutUint32(f[12:], sectors)
	le.PutUint32(f[16:], grain)
	le.PutUint32(f[20:], 4) // L1 at sector 4
	le.PutUint32(f[24:], (sectors/grain+4095)/4096)
	copy(f[512:], "# Disk DescriptorFile\nversion=1\nCID=1d2c3b4a\nparentCID=ffffffff\n")
	return f
}

// SeSparse is an ESXi seSparse extent as qemu's vmdk_open_se_sparse checks
// it: its constant header (magic, version, capacity, 4 KiB grains, grain
// tables of 64 sectors, the volatile header at sector 1, the grain
// directory at 2) and its volatile header.
func SeSparse(sectors uint64) []byte {
	f := make([]byte, 4096)
	le := binary.LittleEndian
	for k, v := range []uint64{0xcafebabe, 0x200000001, sectors, 8, 64} {
		le.PutUint64(f[8*k:], v)
	}
	le.PutUint64(f[80:], 1)
	le.PutUint64(f[88:], 1)
	le.PutUint64(f[128:], 2)
	le.PutUint64(f[136:], (sectors/8/4096*8+511)/512)
	le.PutUint64(f[144:], 3)
	le.PutUint64(f[512:], 0xcafecafe)
	return f
}

// Descriptor is a descriptor file of createType ct with these extent
// lines.
func Descriptor(ct string, lines []string) string {
	return fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=5a6b7c8d\nparentCID=ffffffff\ncreateType=%q\n\n"+
		"# Extent description\n%s\n\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\n", ct, strings.Join(lines, "\n"))
}
