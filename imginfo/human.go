package imginfo

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Human returns qemu-img info's human output for one image, as qemu's
// bdrv_image_info_dump prints it, with snapshot dates in loc (qemu-img
// uses the local time zone; a nil loc is time.Local). Unlike qemu-img, every string from the image
// or its name is printed through EscapeText.
func Human(info *ImageInfo, loc *time.Location) []byte {
	var b strings.Builder
	writeHuman(&b, info, loc)
	return []byte(b.String())
}

// HumanChain returns `qemu-img info --backing-chain`'s human output: each
// image of the chain, the named one first, with an empty line between two.
func HumanChain(chain []ImageInfo, loc *time.Location) []byte {
	var b strings.Builder
	for k := range chain {
		if k > 0 {
			b.WriteByte('\n')
		}
		writeHuman(&b, &chain[k], loc)
	}
	return []byte(b.String())
}

func writeHuman(b *strings.Builder, info *ImageInfo, loc *time.Location) {
	if loc == nil {
		loc = time.Local
	}
	diskSize := "unavailable"
	if info.ActualSize != nil {
		diskSize = SizeToStr(uint64(*info.ActualSize))
	}
	fmt.Fprintf(b, "image: %s\nfile format: %s\nvirtual size: %s (%d bytes)\ndisk size: %s\n",
		EscapeText(info.Filename), EscapeText(info.Format),
		SizeToStr(uint64(info.VirtualSize)), info.VirtualSize, diskSize)
	if info.Encrypted != nil && *info.Encrypted {
		b.WriteString("encrypted: yes\n")
	}
	if info.ClusterSize != nil {
		fmt.Fprintf(b, "cluster_size: %d\n", *info.ClusterSize)
	}
	if info.DirtyFlag != nil && *info.DirtyFlag {
		b.WriteString("cleanly shut down: no\n")
	}
	if info.BackingFilename != nil {
		b.WriteString("backing file: " + EscapeText(*info.BackingFilename))
		switch {
		case info.FullBackingFilename == nil:
			b.WriteString(" (cannot determine actual path)")
		case cString(*info.FullBackingFilename) != cString(*info.BackingFilename):
			b.WriteString(" (actual path: " + EscapeText(*info.FullBackingFilename) + ")")
		}
		b.WriteByte('\n')
		if info.BackingFilenameFormat != nil {
			b.WriteString("backing file format: " + EscapeText(*info.BackingFilenameFormat) + "\n")
		}
	}
	if info.Snapshots != nil {
		b.WriteString("Snapshot list:\n")
		b.WriteString(padRight("ID", 10) + padRight("TAG", 17) + padLeft("VM SIZE", 8) +
			padLeft("DATE", 20) + padLeft("VM CLOCK", 13) + padLeft("ICOUNT", 11) + "\n")
		for k := range info.Snapshots {
			b.WriteString(snapshotRow(&info.Snapshots[k], loc) + "\n")
		}
	}
	if hasSpecific(info.FormatSpecific) {
		b.WriteString("Format specific information:\n")
		dumpQObject(b, 1, specificDataQ(info.FormatSpecific))
	}
}

// snapshotRow is one row of the snapshot table, from the snapshot as qemu
// copies it into its QEMUSnapshotInfo: ID and name cut to their buffers,
// the date to 32 bits, the clock summed into 64-bit nanoseconds.
func snapshotRow(s *SnapshotInfo, loc *time.Location) string {
	id := truncate(cString(s.ID), 127)
	name := truncate(cString(s.Name), 255)
	date := time.Unix(int64(uint32(s.DateSec)), 0).In(loc).Format("2006-01-02 15:04:05")
	clockNsec := uint64(s.VMClockSec)*1000000000 + uint64(s.VMClockNsec)
	secs := int64(clockNsec / 1000000000)
	clock := fmt.Sprintf("%02d:%02d:%02d.%03d", int32(secs/3600), int32(secs/60%60),
		int32(secs%60), int32(clockNsec/1000000%1000))
	icount := ""
	if s.ICount != nil && *s.ICount != -1 {
		icount = strconv.FormatInt(*s.ICount, 10)
	}
	return padRight(EscapeText(id), 9) + " " + padRight(EscapeText(name), 16) + " " +
		padLeft(SizeToStr(uint64(s.VMStateSize)), 8) + padLeft(date, 20) +
		padLeft(clock, 13) + padLeft(icount, 11)
}

// dumpQObject prints format-specific information as qemu's dump_qobject:
// "key: value" a line, a dash in a key printed as a space, a dict or list
// value on the lines below indented four spaces more, list elements as
// "[i]:".
func dumpQObject(b *strings.Builder, indent int, v any) {
	switch v := v.(type) {
	case string:
		b.WriteString(EscapeText(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case uint64:
		b.WriteString(strconv.FormatUint(v, 10))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case *qdict:
		for _, i := range v.order() {
			dumpEntry(b, indent, strings.ReplaceAll(v.keys[i], "-", " "), v.vals[i])
		}
	case qlist:
		for i, e := range v {
			dumpEntry(b, indent, "["+strconv.Itoa(i)+"]", e)
		}
	}
}

func dumpEntry(b *strings.Builder, indent int, label string, v any) {
	b.WriteString(strings.Repeat(" ", indent*4) + label + ":")
	switch v.(type) {
	case *qdict, qlist:
		b.WriteByte('\n')
		dumpQObject(b, indent+1, v)
	default:
		b.WriteByte(' ')
		dumpQObject(b, indent+1, v)
		b.WriteByte('\n')
	}
}

// EscapeText makes an image-derived string safe for a terminal, as instar's
// human output prints it: each byte of a control character (U+0000 to
// U+001F, U+007F, U+0080 to U+009F) or of a sequence that is not UTF-8 is
// written as \xNN (lower-case hex); everything else, backslashes included,
// is printed as qemu-img prints it. As in qemu, the string ends at a NUL.
func EscapeText(s string) string {
	s = cString(s)
	clean := true
	for _, r := range s {
		if isControl(r) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if isControl(r) || (r == utf8.RuneError && n == 1) {
			for i := range n {
				fmt.Fprintf(&b, `\x%02x`, s[i])
			}
		} else {
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7F && r < 0xA0)
}

// cString is s as C sees it: up to its first NUL.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// truncate cuts s to at most n bytes, as pstrcpy into a buffer of n+1.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// padRight and padLeft pad to a width in bytes, as printf's %-Ns and %Ns.
func padRight(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

func padLeft(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat(" ", n-len(s)) + s
}
