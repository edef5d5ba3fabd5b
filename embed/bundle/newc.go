package bundle

import (
	"fmt"
	"strconv"
)

// The newc ("new ASCII") cpio format: each member is a 110-byte header of
// the magic and thirteen 8-digit hex fields, the NUL-terminated name, and
// the data, with the header plus name and the data each padded to a
// multiple of 4 bytes. A member named TRAILER!!! ends the archive.
const (
	newcMagic      = "070701"
	newcHeaderSize = 110
	newcTrailer    = "TRAILER!!!"
	// Field indexes in the header, after the magic.
	newcMode     = 1
	newcFileSize = 6
	newcNameSize = 11
	// modeTypeMask and modeRegular are the file type bits of c_mode.
	modeTypeMask = 0o170000
	modeRegular  = 0o100000
)

// readNewc returns the regular-file members of a newc archive by name. The
// data slices alias archive. Anything but regular files, a repeated name,
// and an archive without its trailer are refused.
func readNewc(archive []byte) (map[string][]byte, error) {
	members := map[string][]byte{}
	for off := 0; ; {
		if len(archive)-off < newcHeaderSize {
			return nil, fmt.Errorf("member at offset %d: truncated header", off)
		}
		hdr := archive[off : off+newcHeaderSize]
		if string(hdr[:len(newcMagic)]) != newcMagic {
			return nil, fmt.Errorf("member at offset %d: not a newc cpio header", off)
		}
		var field [13]uint64
		for i := range field {
			start := len(newcMagic) + 8*i
			v, err := strconv.ParseUint(string(hdr[start:start+8]), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("member at offset %d: header field %d is not hex", off, i)
			}
			field[i] = v
		}
		nameSize, fileSize := int(field[newcNameSize]), int(field[newcFileSize])
		nameEnd := off + newcHeaderSize + nameSize
		if nameSize < 1 || nameEnd > len(archive) || archive[nameEnd-1] != 0 {
			return nil, fmt.Errorf("member at offset %d: bad name", off)
		}
		name := string(archive[off+newcHeaderSize : nameEnd-1])
		dataStart := pad4(nameEnd)
		if dataStart > len(archive) || fileSize > len(archive)-dataStart {
			return nil, fmt.Errorf("member %s: data runs past the end of the archive", name)
		}
		if name == newcTrailer {
			return members, nil
		}
		if field[newcMode]&modeTypeMask != modeRegular {
			return nil, fmt.Errorf("member %s: not a regular file (mode %#o)", name, field[newcMode])
		}
		if _, dup := members[name]; dup {
			return nil, fmt.Errorf("%s is in the archive twice", name)
		}
		members[name] = archive[dataStart : dataStart+fileSize : dataStart+fileSize]
		off = pad4(dataStart + fileSize)
	}
}

func pad4(n int) int { return (n + 3) &^ 3 }
