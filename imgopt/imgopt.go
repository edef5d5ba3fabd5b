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
	"instar/shared/formats"
)

// Format is one image format's options, from the format table
// (formats.All).
type Format struct {
	// Name is the format's qemu-img name.
	Name string
	def  *formats.Format
}

// Formats returns the names of the formats instar creates, in order.
func Formats() []string {
	names := make([]string, len(formats.All))
	for i, f := range formats.All {
		names[i] = f.Name
	}
	return names
}

// Lookup returns the named format.
func Lookup(name string) (*Format, error) {
	f, ok := formats.Named(name)
	if !ok {
		return nil, fmt.Errorf("Unknown file format '%s'", name)
	}
	return &Format{Name: f.Name, def: f}, nil
}

// Def is the format's entry in the format table.
func (f *Format) Def() *formats.Format { return f.def }

// Has reports whether the format has the named option.
func (f *Format) Has(name string) bool {
	_, ok := f.def.Option(name)
	return ok
}

// Options lists the format's option names in the "Formatting" line's order.
func (f *Format) Options() []string {
	names := make([]string, len(f.def.Options))
	for i, o := range f.def.Options {
		names[i] = o.Name
	}
	return names
}

// Words lists the values the named option allows: its words, or on and
// off for a bool; nil for an option that takes any value of its kind.
func (f *Format) Words(name string) []string {
	o, ok := f.def.Option(name)
	if !ok {
		return nil
	}
	if o.Kind == formats.KindBool {
		return []string{"on", "off"}
	}
	var words []string
	for _, w := range o.Words {
		words = append(words, w.Name)
	}
	return words
}

// Help returns the `-o help` listing, sorted by name as qemu-img sorts it.
func (f *Format) Help() string {
	opts := append([]formats.Option(nil), f.def.Options...)
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
	format *formats.Format
	set    map[string]string
}

// New returns an empty set of values for f.
func New(f *Format) *Values { return &Values{format: f.def, set: map[string]string{}} }

// IsHelp reports whether an -o argument asks for the option list: an
// element whose name, read as qemu reads names (up to a comma, even an
// escaped one, or "="), is help or ?, with no value.
func IsHelp(spec string) bool {
	for _, item := range SplitList(spec) {
		name := item[:len(item)-len(strings.TrimLeft(item, "abcdefghijklmnopqrstuvwxyz?"))]
		rest := item[len(name):]
		if (name == "help" || name == "?") && (rest == "" || rest[0] == ',') {
			return true
		}
	}
	return false
}

// SplitList splits a QemuOpts list, "a=1,b=2", at single commas; ",," is
// a literal comma. An empty list is one empty element.
func SplitList(spec string) []string {
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
	for _, item := range SplitList(spec) {
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
	d, ok := v.format.Option(name)
	if !ok {
		return fmt.Errorf("invalid parameter '%s' for format '%s' (see -o help)", name, v.format.Name)
	}
	switch d.Kind {
	case formats.KindSize:
		n, err := imgsize.Parse(value)
		if err != nil {
			return fmt.Errorf("parameter '%s': %w", name, err)
		}
		value = strconv.FormatUint(n, 10)
	case formats.KindNumber:
		n, err := parseNumber(value)
		if err != nil {
			return fmt.Errorf("parameter '%s' expects a number, not '%s'", name, value)
		}
		value = strconv.FormatUint(n, 10)
	case formats.KindBool:
		if _, err := formats.ParseBool(value); err != nil {
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
		if !ok && d.Shown {
			val = d.Default
		}
		if !ok && val == "" {
			continue
		}
		switch d.Kind {
		case formats.KindSize, formats.KindNumber:
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

// Def is the format table's entry for the format the values are for.
func (v *Values) Def() *formats.Format { return v.format }
