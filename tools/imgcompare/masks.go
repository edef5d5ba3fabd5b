package imgcompare

import (
	"bytes"
	"encoding/binary"
	"regexp"
)

// MaskFor returns the mask of what is random by design in an image of the
// format (nil when nothing is).
func MaskFor(format string) Mask {
	switch format {
	case "vpc":
		return VpcMask
	case "vhdx":
		return VhdxMask
	case "vmdk":
		return VmdkMask
	}
	return nil
}

// InfoIgnoreFor returns the `qemu-img info` paths that are random by
// design for the format.
func InfoIgnoreFor(format string) []string {
	if format == "vmdk" {
		return []string{"format-specific.data.cid", "format-specific.data.parent-cid"}
	}
	return nil
}

// VpcMask hides what is random by design in a VHD: the footer's timestamp,
// checksum and UUID, in the copy at 0 (dynamic) and the footer at the end.
func VpcMask(data []byte) [][2]int64 {
	var r [][2]int64
	at := func(off int64) {
		if off >= 0 && off+512 <= int64(len(data)) && bytes.Equal(data[off:off+8], []byte("conectix")) {
			r = append(r, [2]int64{off + 24, off + 28}, [2]int64{off + 64, off + 84})
		}
	}
	at(0)
	at(int64(len(data)) - 512)
	return r
}

// vhdxMetadataRegion is the GUID of the VHDX metadata region.
var vhdxMetadataRegion = []byte{0x06, 0xA2, 0x7C, 0x8B, 0x90, 0x47, 0x9A, 0x4B, 0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E}

// VhdxMask hides what is random by design in a VHDX: each header's
// checksum, sequence number and file/data write GUIDs, and the page 83
// GUID in the metadata items (found through region table 1).
func VhdxMask(data []byte) [][2]int64 {
	var r [][2]int64
	for _, h := range []int64{64 << 10, 128 << 10} {
		if int64(len(data)) >= h+4096 && string(data[h:h+4]) == "head" {
			r = append(r, [2]int64{h + 4, h + 48})
		}
	}
	const rt = 192 << 10
	if len(data) < rt+64<<10 || string(data[rt:rt+4]) != "regi" {
		return r
	}
	n := binary.LittleEndian.Uint32(data[rt+8:])
	for i := uint32(0); i < n && i < 2047; i++ {
		e := data[rt+16+32*i:]
		if bytes.Equal(e[:16], vhdxMetadataRegion) {
			off := int64(binary.LittleEndian.Uint64(e[16:]))
			if off > 0 && off+64<<10+32 <= int64(len(data)) {
				r = append(r, [2]int64{off + 64<<10 + 16, off + 64<<10 + 32})
			}
		}
	}
	return r
}

var vmdkCIDLine = regexp.MustCompile(`(?m)^(?:CID|parentCID)=([0-9a-f]+)$`)

// VmdkMask hides the descriptor's CID and parentCID (in an embedded
// descriptor at sector 1 or a whole descriptor file). CIDs print without
// leading zeros, so a comparison needs both sides to have 8 digits.
func VmdkMask(data []byte) [][2]int64 {
	var base int64
	var text []byte
	switch {
	case bytes.HasPrefix(data, []byte("KDMV")) && len(data) >= 512+10240:
		base, text = 512, data[512:512+10240]
	case bytes.HasPrefix(data, []byte("# Disk DescriptorFile")):
		text = data[:min(len(data), 64<<10)]
	default:
		return nil
	}
	var r [][2]int64
	for _, m := range vmdkCIDLine.FindAllSubmatchIndex(text, -1) {
		r = append(r, [2]int64{base + int64(m[2]), base + int64(m[3])})
	}
	return r
}

// VmdkShortCID reports whether a vmdk's descriptor has a CID of fewer than
// 8 hex digits, which shifts the bytes after it; comparisons retry then.
func VmdkShortCID(data []byte) bool {
	for _, m := range vmdkCIDLine.FindAllSubmatch(data[:min(len(data), 512+10240)], -1) {
		if len(m[1]) < 8 {
			return true
		}
	}
	return false
}
