package imginfo

import (
	"sort"
	"strconv"
)

// qemu-img builds a QObject tree from the QAPI value (the QObject output
// visitor) and prints that. A QDict iterates in hash-bucket order, so the
// tree is rebuilt here as qemu builds it: values are string, int64,
// uint64, bool, *qdict or qlist.

// qdictBuckets is QDICT_BUCKET_MAX.
const qdictBuckets = 512

// qdict is a QDict: members in insertion order; iterated in qemu's order.
type qdict struct {
	keys []string
	vals []any
}

// qlist is a QList.
type qlist []any

// put adds a member; the visitor never repeats a key.
func (d *qdict) put(key string, v any) {
	d.keys = append(d.keys, key)
	d.vals = append(d.vals, v)
}

// tdbHash is the hash qemu's QDict buckets its keys by.
func tdbHash(key string) uint32 {
	v := 0x238F13AF * uint32(len(key))
	for i := 0; i < len(key); i++ {
		v += uint32(key[i]) << (uint(i) * 5 % 24)
	}
	return 1103515243*v + 12345
}

// order returns the member indexes in qdict_first/qdict_next order: buckets
// ascending, and within a bucket the latest insertion first (each insertion
// goes to the head of its bucket's list).
func (d *qdict) order() []int {
	idx := make([]int, len(d.keys))
	bucket := make([]uint32, len(d.keys))
	for i, k := range d.keys {
		idx[i] = i
		bucket[i] = tdbHash(k) % qdictBuckets
	}
	sort.Slice(idx, func(a, b int) bool {
		ia, ib := idx[a], idx[b]
		if bucket[ia] != bucket[ib] {
			return bucket[ia] < bucket[ib]
		}
		return ia > ib
	})
	return idx
}

// The visitor: members in QAPI declaration order, optional ones only when
// present (has_X), union discriminators before the branch's members.

func imageInfoQ(i *ImageInfo) *qdict {
	d := &qdict{}
	d.put("filename", i.Filename)
	d.put("format", i.Format)
	putBool(d, "dirty-flag", i.DirtyFlag)
	putInt(d, "actual-size", i.ActualSize)
	d.put("virtual-size", i.VirtualSize)
	putInt(d, "cluster-size", i.ClusterSize)
	putBool(d, "encrypted", i.Encrypted)
	putBool(d, "compressed", i.Compressed)
	putStr(d, "backing-filename", i.BackingFilename)
	putStr(d, "full-backing-filename", i.FullBackingFilename)
	putStr(d, "backing-filename-format", i.BackingFilenameFormat)
	if i.Snapshots != nil {
		l := qlist{}
		for k := range i.Snapshots {
			l = append(l, snapshotQ(&i.Snapshots[k]))
		}
		d.put("snapshots", l)
	}
	if i.BackingImage != nil {
		d.put("backing-image", imageInfoQ(i.BackingImage))
	}
	if hasSpecific(i.FormatSpecific) {
		d.put("format-specific", specificQ(i.FormatSpecific))
	}
	return d
}

func snapshotQ(s *SnapshotInfo) *qdict {
	d := &qdict{}
	d.put("id", s.ID)
	d.put("name", s.Name)
	d.put("vm-state-size", s.VMStateSize)
	d.put("date-sec", s.DateSec)
	d.put("date-nsec", s.DateNsec)
	d.put("vm-clock-sec", s.VMClockSec)
	d.put("vm-clock-nsec", s.VMClockNsec)
	putInt(d, "icount", s.ICount)
	return d
}

// hasSpecific tells whether s holds a branch: a nil pointer of a branch's
// type counts as absent, as a nil interface does.
func hasSpecific(s ImageInfoSpecific) bool {
	switch v := s.(type) {
	case *ImageInfoSpecificQCow2:
		return v != nil
	case *ImageInfoSpecificVMDK:
		return v != nil
	case *QCryptoBlockInfoLUKS:
		return v != nil
	case *ImageInfoSpecificRBD:
		return v != nil
	}
	return false
}

// specificQ is the union with its branch wrapped as qemu 7.2 wraps it:
// {"type": T, "data": {...}}.
func specificQ(s ImageInfoSpecific) *qdict {
	d := &qdict{}
	d.put("type", s.specificType())
	d.put("data", specificDataQ(s))
	return d
}

// specificDataQ is the union's branch, the "data" member.
func specificDataQ(s ImageInfoSpecific) *qdict {
	var data *qdict
	switch v := s.(type) {
	case *ImageInfoSpecificQCow2:
		data = qcow2Q(v)
	case *ImageInfoSpecificVMDK:
		data = vmdkQ(v)
	case *QCryptoBlockInfoLUKS:
		data = &qdict{}
		luksQ(data, v)
	case *ImageInfoSpecificRBD:
		data = &qdict{}
		putStr(data, "encryption-format", v.EncryptionFormat)
	}
	return data
}

func qcow2Q(q *ImageInfoSpecificQCow2) *qdict {
	d := &qdict{}
	d.put("compat", q.Compat)
	putStr(d, "data-file", q.DataFile)
	putBool(d, "data-file-raw", q.DataFileRaw)
	putBool(d, "extended-l2", q.ExtendedL2)
	putBool(d, "lazy-refcounts", q.LazyRefcounts)
	putBool(d, "corrupt", q.Corrupt)
	d.put("refcount-bits", q.RefcountBits)
	if q.Encrypt != nil {
		e := &qdict{}
		e.put("format", q.Encrypt.Format)
		if q.Encrypt.Format == "luks" && q.Encrypt.LUKS != nil {
			luksQ(e, q.Encrypt.LUKS)
		}
		d.put("encrypt", e)
	}
	if q.Bitmaps != nil {
		l := qlist{}
		for _, b := range q.Bitmaps {
			bd := &qdict{}
			bd.put("name", b.Name)
			bd.put("granularity", uint64(b.Granularity))
			flags := qlist{}
			for _, f := range b.Flags {
				flags = append(flags, f)
			}
			bd.put("flags", flags)
			l = append(l, bd)
		}
		d.put("bitmaps", l)
	}
	d.put("compression-type", q.CompressionType)
	return d
}

func vmdkQ(v *ImageInfoSpecificVMDK) *qdict {
	d := &qdict{}
	d.put("create-type", v.CreateType)
	d.put("cid", v.CID)
	d.put("parent-cid", v.ParentCID)
	l := qlist{}
	for k := range v.Extents {
		l = append(l, imageInfoQ(&v.Extents[k]))
	}
	d.put("extents", l)
	return d
}

// luksQ adds a LUKS header's members to d (a branch of its own or qcow2's
// encrypt union, whose members sit beside "format").
func luksQ(d *qdict, l *QCryptoBlockInfoLUKS) {
	d.put("cipher-alg", l.CipherAlg)
	d.put("cipher-mode", l.CipherMode)
	d.put("ivgen-alg", l.IVGenAlg)
	putStr(d, "ivgen-hash-alg", l.IVGenHashAlg)
	d.put("hash-alg", l.HashAlg)
	d.put("payload-offset", l.PayloadOffset)
	d.put("master-key-iters", l.MasterKeyIters)
	d.put("uuid", l.UUID)
	slots := qlist{}
	for _, s := range l.Slots {
		sd := &qdict{}
		sd.put("active", s.Active)
		putInt(sd, "iters", s.Iters)
		putInt(sd, "stripes", s.Stripes)
		sd.put("key-offset", s.KeyOffset)
		slots = append(slots, sd)
	}
	d.put("slots", slots)
}

func putBool(d *qdict, key string, v *bool) {
	if v != nil {
		d.put(key, *v)
	}
}

func putInt(d *qdict, key string, v *int64) {
	if v != nil {
		d.put(key, *v)
	}
}

func putStr(d *qdict, key string, v *string) {
	if v != nil {
		d.put(key, *v)
	}
}

// JSON returns `qemu-img info --output=json` for one image, final newline
// included.
func JSON(info *ImageInfo) []byte {
	w := &jsonWriter{}
	w.value("", imageInfoQ(info))
	return append(w.buf, '\n')
}

// JSONChain returns `qemu-img info --output=json --backing-chain`: a list of
// the chain's images, the named image first.
func JSONChain(chain []ImageInfo) []byte {
	l := qlist{}
	for k := range chain {
		l = append(l, imageInfoQ(&chain[k]))
	}
	w := &jsonWriter{}
	w.value("", l)
	return append(w.buf, '\n')
}

// jsonWriter is qemu's pretty JSON writer: each member or element on its
// own line indented four spaces a level, "key: value", a closing bracket on
// its own line (an empty container too).
type jsonWriter struct {
	buf       []byte
	depth     int
	inObject  []bool
	needComma bool
}

func (w *jsonWriter) newline() {
	w.buf = append(w.buf, '\n')
	for range w.depth * 4 {
		w.buf = append(w.buf, ' ')
	}
}

// member starts a value: the separator, then the key inside an object.
func (w *jsonWriter) member(name string) {
	if w.needComma {
		w.buf = append(w.buf, ',')
		w.newline()
	} else {
		if len(w.buf) > 0 {
			w.newline()
		}
		w.needComma = true
	}
	if w.depth > 0 && w.inObject[w.depth-1] {
		w.buf = quoteJSON(w.buf, name)
		w.buf = append(w.buf, ':', ' ')
	}
}

func (w *jsonWriter) open(c byte, object bool) {
	w.buf = append(w.buf, c)
	w.inObject = append(w.inObject[:w.depth], object)
	w.depth++
	w.needComma = false
}

func (w *jsonWriter) close(c byte) {
	w.depth--
	w.needComma = true
	w.newline()
	w.buf = append(w.buf, c)
}

func (w *jsonWriter) value(name string, v any) {
	w.member(name)
	switch v := v.(type) {
	case string:
		w.buf = quoteJSON(w.buf, v)
	case int64:
		w.buf = strconv.AppendInt(w.buf, v, 10)
	case uint64:
		w.buf = strconv.AppendUint(w.buf, v, 10)
	case bool:
		w.buf = strconv.AppendBool(w.buf, v)
	case *qdict:
		w.open('{', true)
		for _, i := range v.order() {
			w.value(v.keys[i], v.vals[i])
		}
		w.close('}')
	case qlist:
		w.open('[', false)
		for _, e := range v {
			w.value("", e)
		}
		w.close(']')
	}
}

// quoteJSON appends s as qemu quotes a string: \" \\ \b \f \n \r \t; other
// characters below U+0020 and from U+007F up as \uXXXX (upper-case hex,
// surrogate pairs above U+FFFF); a sequence qemu's modified-UTF-8 decoder
// rejects as \uFFFD. s is a C string to qemu: it ends at a NUL byte.
func quoteJSON(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for p := 0; p < len(s) && s[p] != 0; {
		cp, n := modUTF8(s[p:])
		p += n
		switch cp {
		case '"':
			buf = append(buf, '\\', '"')
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			if cp < 0 {
				cp = 0xFFFD
			}
			switch {
			case cp > 0xFFFF:
				buf = appendU4(buf, 0xD800+(cp-0x10000)>>10)
				buf = appendU4(buf, 0xDC00+(cp-0x10000)&0x3FF)
			case cp < 0x20 || cp >= 0x7F:
				buf = appendU4(buf, cp)
			default:
				buf = append(buf, byte(cp))
			}
		}
	}
	return append(buf, '"')
}

func appendU4(buf []byte, cp int) []byte {
	const hex = "0123456789ABCDEF"
	return append(buf, '\\', 'u', hex[cp>>12&15], hex[cp>>8&15], hex[cp>>4&15], hex[cp&15])
}

// modUTF8 decodes the sequence at the start of s (non-empty, not starting
// with NUL) as qemu's mod_utf8_codepoint does with a limit of 6 bytes: it
// returns the code point, or -1 for an invalid sequence, and the bytes the
// sequence took. A lead byte takes as many continuation bytes as it asks
// for and finds; "\xC0\x80" is U+0000; overlong forms, surrogates,
// noncharacters and values above U+10FFFF are invalid.
func modUTF8(s string) (cp, n int) {
	b := s[0]
	switch {
	case b < 0x80:
		return int(b), 1
	case b >= 0xFE || b&0x40 == 0:
		return -1, 1
	}
	length := 0
	mask := byte(0x80)
	for ; b&mask != 0; mask >>= 1 {
		length++
	}
	cp = int(b & (mask - 1))
	n = 1
	for i := 1; i < length; i++ {
		if n >= len(s) || s[n]&0xC0 != 0x80 {
			return -1, n
		}
		cp = cp<<6 | int(s[n]&0x3F)
		n++
	}
	minCP := [...]int{0x80, 0x800, 0x10000, 0x200000, 0x4000000}
	switch {
	case cp > 0x10FFFF,
		cp >= 0xFDD0 && cp <= 0xFDEF, cp&0xFFFE == 0xFFFE,
		cp >= 0xD800 && cp <= 0xDFFF,
		cp < minCP[length-2] && !(cp == 0 && length == 2):
		return -1, n
	}
	return cp, n
}
