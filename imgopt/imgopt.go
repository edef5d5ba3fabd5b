// Package imgopt knows qemu-img's per-format creation options: their names,
// types and defaults, the `-o help` listing, the parsing of `-o k=v,...`
// strings, and the "Formatting ..." line qemu-img prints.
//
// It checks only the syntax of values (a size is a size, a bool is on or
// off). Whether a value is allowed for the format is image-format logic,
// which the guest decides.
package imgopt

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"instar/imgsize"
)

// Kind is an option's value type.
type Kind int

// Option kinds, as qemu-img names them in `-o help`.
const (
	String Kind = iota
	Size
	Number
	Bool
)

func (k Kind) String() string {
	return [...]string{"str", "size", "num", "bool (on/off)"}[k]
}

// Desc describes one option.
type Desc struct {
	Name string
	Kind Kind
	Help string
	// Default is printed in the "Formatting" line when the option is not
	// set; empty means the option is printed only when set.
	Default string
}

// Format is one image format's option list, in the order qemu-img prints
// the "Formatting" line.
type Format struct {
	Name    string
	Options []Desc
}

const (
	helpSize        = "Virtual disk size"
	helpBackingFile = "File name of a base image"
)

// Formats lists every format instar creates.
var Formats = map[string]*Format{
	"raw": {Name: "raw", Options: []Desc{
		{Name: "size", Kind: Size, Help: helpSize},
		{Name: "preallocation", Kind: String, Help: "Preallocation mode (allowed values: off, falloc, full)"},
	}},
	"qcow2": {Name: "qcow2", Options: []Desc{
		{Name: "cluster_size", Kind: Size, Help: "qcow2 cluster size", Default: "65536"},
		{Name: "extended_l2", Kind: Bool, Help: "Extended L2 tables", Default: "off"},
		{Name: "preallocation", Kind: String, Help: "Preallocation mode (allowed values: off, metadata, falloc, full)"},
		{Name: "compression_type", Kind: String, Help: "Compression method used for image cluster compression", Default: "zlib"},
		{Name: "size", Kind: Size, Help: helpSize},
		{Name: "compat", Kind: String, Help: "Compatibility level (v2 [0.10] or v3 [1.1])"},
		{Name: "backing_file", Kind: String, Help: helpBackingFile},
		{Name: "backing_fmt", Kind: String, Help: "Image format of the base image"},
		{Name: "lazy_refcounts", Kind: Bool, Help: "Postpone refcount updates", Default: "off"},
		{Name: "refcount_bits", Kind: Number, Help: "Width of a reference count entry in bits", Default: "16"},
	}},
	"vmdk": {Name: "vmdk", Options: []Desc{
		{Name: "size", Kind: Size, Help: helpSize},
		{Name: "adapter_type", Kind: String, Help: "Virtual adapter type, can be one of ide (default), lsilogic, buslogic or legacyESX"},
		{Name: "backing_file", Kind: String, Help: helpBackingFile},
		{Name: "backing_fmt", Kind: String, Help: "Must be 'vmdk' if present"},
		{Name: "compat6", Kind: Bool, Help: "VMDK version 6 image", Default: "off"},
		{Name: "hwversion", Kind: String, Help: "VMDK hardware version", Default: "undefined"},
		{Name: "toolsversion", Kind: String, Help: "VMware guest tools version"},
		{Name: "subformat", Kind: String, Help: "VMDK flat extent format, can be one of {monolithicSparse (default) | monolithicFlat | twoGbMaxExtentSparse | twoGbMaxExtentFlat | streamOptimized} "},
		{Name: "zeroed_grain", Kind: Bool, Help: "Enable efficient zero writes using the zeroed-grain GTE feature"},
	}},
	"vpc": {Name: "vpc", Options: []Desc{
		{Name: "size", Kind: Size, Help: helpSize},
		{Name: "subformat", Kind: String, Help: "Type of virtual hard disk format. Supported formats are {dynamic (default) | fixed} "},
		{Name: "force_size", Kind: Bool, Help: "Force disk size calculation to use the actual size specified, rather than using the nearest CHS-based calculation"},
	}},
	"vhdx": {Name: "vhdx", Options: []Desc{
		{Name: "size", Kind: Size, Help: "Virtual disk size; max of 64TB."},
		{Name: "log_size", Kind: Size, Help: "Log size; min 1MB.", Default: "1048576"},
		{Name: "block_size", Kind: Size, Help: "Block Size; min 1MB, max 256MB. 0 means auto-calculate based on image size.", Default: "0"},
		{Name: "subformat", Kind: String, Help: "VHDX format type, can be either 'dynamic' or 'fixed'. Default is 'dynamic'."},
		{Name: "block_state_zero", Kind: Bool, Help: "Force use of payload blocks of type 'ZERO'. Non-standard, but default.  Do not set to 'off' when using 'qemu-img convert' with subformat=dynamic."},
	}},
}

// Lookup returns the named format.
func Lookup(name string) (*Format, error) {
	f, ok := Formats[name]
	if !ok {
		return nil, fmt.Errorf("Unknown file format '%s'", name)
	}
	return f, nil
}

func (f *Format) desc(name string) (Desc, bool) {
	for _, d := range f.Options {
		if d.Name == name {
			return d, true
		}
	}
	return Desc{}, false
}

// Has reports whether the format has the named option.
func (f *Format) Has(name string) bool {
	_, ok := f.desc(name)
	return ok
}

// Help returns the `-o help` listing, sorted by name as qemu-img sorts it.
func (f *Format) Help() string {
	opts := append([]Desc(nil), f.Options...)
	sort.Slice(opts, func(i, j int) bool { return opts[i].Name < opts[j].Name })
	var b strings.Builder
	fmt.Fprintf(&b, "Supported %s options:\n", f.Name)
	for _, d := range opts {
		fmt.Fprintf(&b, "  %-22s - %s\n", d.Name+"=<"+d.Kind.String()+">", d.Help)
	}
	return b.String()
}

// Values are the options set for one create, in canonical form: sizes and
// numbers as decimal integers, bools and strings as typed.
type Values struct {
	format *Format
	set    map[string]string
}

// New returns an empty set of values for f.
func New(f *Format) *Values { return &Values{format: f, set: map[string]string{}} }

// IsHelp reports whether an -o argument asks for the option list: an
// element whose name, read as qemu reads names (up to a comma, even an
// escaped one, or "="), is help or ?, with no value.
func IsHelp(spec string) bool {
	for _, item := range splitList(spec) {
		name := item[:len(item)-len(strings.TrimLeft(item, "abcdefghijklmnopqrstuvwxyz?"))]
		rest := item[len(name):]
		if (name == "help" || name == "?") && (rest == "" || rest[0] == ',') {
			return true
		}
	}
	return false
}

// splitList splits "a=1,b=2" at single commas; ",," is a literal comma.
func splitList(spec string) []string {
	var items []string
	var cur strings.Builder
	for i := 0; i < len(spec); i++ {
		if spec[i] == ',' {
			if i+1 < len(spec) && spec[i+1] == ',' {
				cur.WriteByte(',')
				i++
				continue
			}
			items = append(items, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(spec[i])
	}
	return append(items, cur.String())
}

// Parse adds every k=v of one -o argument (a bare k is k=on, nok is
// k=off); a later value for a name replaces an earlier one, as in
// qemu-img.
func (v *Values) Parse(spec string) error {
	for _, item := range splitList(spec) {
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			// A bare name means name=on, and "no" before it
			// name=off, as qemu reads option lists.
			name, value = item, "on"
			if rest, isNo := strings.CutPrefix(item, "no"); isNo {
				name, value = rest, "off"
			}
		}
		if err := v.Set(name, value); err != nil {
			return err
		}
	}
	return nil
}

// Set sets one option, checking its syntax.
func (v *Values) Set(name, value string) error {
	d, ok := v.format.desc(name)
	if !ok {
		return fmt.Errorf("invalid parameter '%s' for format '%s' (see -o help)", name, v.format.Name)
	}
	switch d.Kind {
	case Size:
		n, err := imgsize.Parse(value)
		if err != nil {
			return fmt.Errorf("parameter '%s': %w", name, err)
		}
		value = strconv.FormatUint(n, 10)
	case Number:
		n, err := parseNumber(value)
		if err != nil {
			return fmt.Errorf("parameter '%s' expects a number, not '%s'", name, value)
		}
		value = strconv.FormatUint(n, 10)
	case Bool:
		if _, err := ParseBool(value); err != nil {
			return fmt.Errorf("parameter '%s' expects 'on' or 'off', not '%s'", name, value)
		}
	}
	v.set[name] = value
	return nil
}

// parseNumber reads a number option as qemu does (C's strtoull in base
// 0): leading white space, an optional +, then hex after 0x, octal after
// a leading 0, or decimal, negated (modulo 2^64) after a -; nothing may
// follow.
func parseNumber(s string) (uint64, error) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := strings.HasPrefix(s, "-")
	if neg || strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s == "" || strings.ContainsAny(s, "_+-") {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseUint(s, base, 64)
	if neg {
		n = -n // as strtoull negates
	}
	return n, err
}

// ParseBool parses an on/off value the ways qemu accepts.
func ParseBool(s string) (bool, error) {
	switch s {
	case "on", "yes", "true", "y":
		return true, nil
	case "off", "no", "false", "n":
		return false, nil
	}
	return false, fmt.Errorf("'%s' is not on or off", s)
}

// Has reports whether the option was set.
func (v *Values) Has(name string) bool {
	_, ok := v.set[name]
	return ok
}

// Get returns an option's value and whether it was set.
func (v *Values) Get(name string) (string, bool) {
	s, ok := v.set[name]
	return s, ok
}

// Uint returns a size or number option, or def when unset.
func (v *Values) Uint(name string, def uint64) uint64 {
	s, ok := v.set[name]
	if !ok {
		return def
	}
	n, _ := strconv.ParseUint(s, 10, 64) // Set stored it canonical
	return n
}

// Bool returns a bool option, or def when unset.
func (v *Values) Bool(name string, def bool) bool {
	s, ok := v.set[name]
	if !ok {
		return def
	}
	b, _ := ParseBool(s)
	return b
}

// Explicit lists the options set, in the "Formatting" line's order, as
// name=value, leaving out the given names.
func (v *Values) Explicit(except ...string) []string {
	var out []string
outer:
	for _, d := range v.format.Options {
		val, ok := v.set[d.Name]
		if !ok {
			continue
		}
		for _, e := range except {
			if e == d.Name {
				continue outer
			}
		}
		out = append(out, d.Name+"="+val)
	}
	return out
}

// Formatting returns qemu-img's line for the image about to be created.
func (v *Values) Formatting(filename string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Formatting '%s', fmt=%s", filename, v.format.Name)
	for _, d := range v.format.Options {
		val, ok := v.set[d.Name]
		if !ok {
			val = d.Default
		}
		if !ok && val == "" {
			continue
		}
		switch d.Kind {
		case Size, Number:
			// qemu prints these as signed 64-bit numbers.
			if n, err := strconv.ParseUint(val, 10, 64); err == nil {
				val = strconv.FormatInt(int64(n), 10)
			}
		default:
			// qemu prints a comma in a value escaped, as it is typed.
			val = strings.ReplaceAll(val, ",", ",,")
		}
		fmt.Fprintf(&b, " %s=%s", d.Name, val)
	}
	return b.String()
}
