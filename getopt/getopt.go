// Package getopt parses command lines as GNU getopt_long does, which is how
// qemu-img reads its own: short options that cluster (-qf qcow2, -fqcow2),
// long options as --name value or --name=value or any unambiguous prefix of
// the name, options and operands in any order, and -- to end the options.
package getopt

import (
	"fmt"
	"strings"
)

// Option is one option a command accepts.
type Option struct {
	// Short is the one-letter name (0 for none); Long the long name ("" for
	// none).
	Short byte
	Long  string
	// Arg names the option's argument in the usage; "" means the option
	// takes none.
	Arg string
	// Help is the option's line in the usage.
	Help string
	// Set is called for each occurrence, with the argument ("" for an
	// option without one). Its error is the parse's, with the option named.
	// A nil Set accepts the option and ignores it.
	Set func(arg string) error
}

// name is how messages refer to the option.
func (o *Option) name() string {
	if o.Long != "" {
		return "--" + o.Long
	}
	return "-" + string(o.Short)
}

// Parse applies the options in args to opts, in order, and returns the
// operands (the arguments that are not options) in order.
func Parse(args []string, opts []Option) ([]string, error) {
	operands, pending, err := scan(args, opts)
	switch {
	case err != nil:
		return nil, err
	case pending != nil && pending.viaLong:
		return nil, fmt.Errorf("option '--%s' requires an argument", pending.opt.Long)
	case pending != nil:
		return nil, fmt.Errorf("option requires an argument -- '%c'", pending.opt.Short)
	}
	return operands, nil
}

// Pending reports, for completing the word after args, which option that
// word would be the argument of (nil if none), with the options in args
// applied as Parse applies them. After "--" no word is an option's
// argument.
func Pending(args []string, opts []Option) (*Option, error) {
	_, p, err := scan(args, opts)
	if p == nil {
		return nil, err
	}
	return p.opt, err
}

// pending is an option at the end of the line that still wants its
// argument, and whether it was spelled long.
type pending struct {
	opt     *Option
	viaLong bool
}

// scan is Parse, except that an option at the very end still wanting its
// argument is returned rather than refused.
func scan(args []string, opts []Option) ([]string, *pending, error) {
	var operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(operands, args[i+1:]...), nil, nil
		case strings.HasPrefix(a, "--"):
			o, val, hasVal, err := long(opts, a[2:])
			if err != nil {
				return nil, nil, err
			}
			switch {
			case o.Arg == "" && hasVal:
				return nil, nil, fmt.Errorf("option '--%s' doesn't allow an argument", o.Long)
			case o.Arg != "" && !hasVal:
				if i+1 == len(args) {
					return operands, &pending{opt: o, viaLong: true}, nil
				}
				i++
				val = args[i]
			}
			if err := set(o, val); err != nil {
				return nil, nil, err
			}
		case len(a) > 1 && a[0] == '-':
			// A cluster of short options; one that takes an argument
			// takes the rest of the cluster, or else the next argument.
			for j := 1; j < len(a); j++ {
				o := short(opts, a[j])
				if o == nil {
					return nil, nil, fmt.Errorf("invalid option -- '%c'", a[j])
				}
				if o.Arg == "" {
					if err := set(o, ""); err != nil {
						return nil, nil, err
					}
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 == len(args) {
						return operands, &pending{opt: o}, nil
					}
					i++
					val = args[i]
				}
				if err := set(o, val); err != nil {
					return nil, nil, err
				}
				break
			}
		default:
			operands = append(operands, a)
		}
	}
	return operands, nil, nil
}

func set(o *Option, val string) error {
	if o.Set == nil {
		return nil
	}
	if err := o.Set(val); err != nil {
		return fmt.Errorf("%s: %w", o.name(), err)
	}
	return nil
}

func short(opts []Option, c byte) *Option {
	for i := range opts {
		if opts[i].Short == c {
			return &opts[i]
		}
	}
	return nil
}

// long finds the long option spelled s (name or name=value): its exact
// name, or else the one option the name is a prefix of.
func long(opts []Option, s string) (o *Option, val string, hasVal bool, err error) {
	name := s
	if eq := strings.IndexByte(s, '='); eq >= 0 {
		name, val, hasVal = s[:eq], s[eq+1:], true
	}
	var matches []*Option
	for i := range opts {
		switch {
		case opts[i].Long == "":
		case opts[i].Long == name:
			return &opts[i], val, hasVal, nil
		case strings.HasPrefix(opts[i].Long, name):
			matches = append(matches, &opts[i])
		}
	}
	switch {
	case name == "" || len(matches) == 0:
		return nil, "", false, fmt.Errorf("unrecognized option '--%s'", name)
	case len(matches) > 1:
		var names []string
		for _, m := range matches {
			names = append(names, "'--"+m.Long+"'")
		}
		return nil, "", false, fmt.Errorf("option '--%s' is ambiguous; possibilities: %s", name, strings.Join(names, " "))
	}
	return matches[0], val, hasVal, nil
}

// Usage lists the options, a line each: "  -f, --format=FMT  help".
func Usage(opts []Option) string {
	var lines [][2]string
	width := 0
	for _, o := range opts {
		var s string
		switch {
		case o.Short != 0 && o.Long != "":
			s = fmt.Sprintf("-%c, --%s", o.Short, o.Long)
		case o.Short != 0:
			s = fmt.Sprintf("-%c", o.Short)
		default:
			s = "    --" + o.Long
		}
		if o.Arg != "" {
			if o.Long != "" {
				s += "=" + o.Arg
			} else {
				s += " " + o.Arg
			}
		}
		lines = append(lines, [2]string{s, o.Help})
		width = max(width, len(s))
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, l[0], l[1])
	}
	return b.String()
}

// String is a Set that stores the argument in *p.
func String(p *string) func(string) error {
	return func(s string) error { *p = s; return nil }
}

// Bool is a Set that sets *p.
func Bool(p *bool) func(string) error {
	return func(string) error { *p = true; return nil }
}

// Append is a Set that appends the argument to *p.
func Append(p *[]string) func(string) error {
	return func(s string) error { *p = append(*p, s); return nil }
}
