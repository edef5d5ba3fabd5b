package imginspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"instar/imginfo"
)

// JSON is v as one line of JSON, newline included:
//
//	{"filename":F,"format":F,"formats":[...],"virtual-size":N or null,"safe":B,"failures":{check:reason,...}}
//
// Every key is always there: format is null when it is unknown (a file
// that could not be inspected), virtual-size null when v has none, and
// failures is {} when none failed; failures keep check number order.
// Strings are JSON-escaped (control characters as \u00XX; a byte that is
// not UTF-8 becomes U+FFFD).
func JSON(v *Verdict) []byte {
	var b bytes.Buffer
	b.WriteString(`{"filename":`)
	writeString(&b, v.Filename)
	b.WriteString(`,"format":`)
	if v.Format != "" {
		writeString(&b, v.Format)
	} else {
		b.WriteString("null")
	}
	b.WriteString(`,"formats":[`)
	for i, f := range v.Formats {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(&b, f)
	}
	b.WriteString(`],"virtual-size":`)
	if v.VirtualSize != nil {
		b.WriteString(strconv.FormatUint(*v.VirtualSize, 10))
	} else {
		b.WriteString("null")
	}
	fmt.Fprintf(&b, `,"safe":%t,"failures":{`, v.Safe)
	for i, f := range v.Failures {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(&b, f.Check)
		b.WriteByte(':')
		writeString(&b, f.Reason)
	}
	b.WriteString("}}\n")
	return b.Bytes()
}

// writeString writes s as a JSON string, without HTML escaping.
func writeString(b *bytes.Buffer, s string) {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Write(bytes.TrimSuffix(out.Bytes(), []byte("\n")))
}

// Human is v as a short block for a terminal:
//
//	filename: disk.qcow2
//	format: qcow2                (only when known)
//	formats: iso, qcow2          (only when more than one claims it)
//	virtual size: 1 GiB (1073741824 bytes)
//	safe: no
//	  backing_file: ...
//
// The file name and the reasons are escaped as imginfo escapes
// image-derived text.
func Human(v *Verdict) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "filename: %s\n", imginfo.EscapeText(v.Filename))
	if v.Format != "" {
		fmt.Fprintf(&b, "format: %s\n", v.Format)
	}
	if len(v.Formats) > 1 {
		fmt.Fprintf(&b, "formats: %s\n", strings.Join(v.Formats, ", "))
	}
	if v.VirtualSize != nil {
		fmt.Fprintf(&b, "virtual size: %s (%d bytes)\n", imginfo.SizeToStr(*v.VirtualSize), *v.VirtualSize)
	}
	if v.Safe {
		b.WriteString("safe: yes\n")
	} else {
		b.WriteString("safe: no\n")
	}
	for _, f := range v.Failures {
		fmt.Fprintf(&b, "  %s: %s\n", f.Check, escapeAll(f.Reason))
	}
	return []byte(b.String())
}

// escapeAll is imginfo.EscapeText, except that a NUL is escaped rather
// than ending the text: a reason is not a C string.
func escapeAll(s string) string {
	parts := strings.Split(s, "\x00")
	for i := range parts {
		parts[i] = imginfo.EscapeText(parts[i])
	}
	return strings.Join(parts, `\x00`)
}
