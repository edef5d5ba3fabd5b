package cli

import (
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"instar/getopt"
	"instar/imgopt"
)

// formatNames are the formats instar creates, sorted.
func formatNames() []string {
	var names []string
	for name := range imgopt.Formats {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// completeValue completes create's option arguments: format names after
// -f and -F, the chosen format's options after -o, the words of --output
// and --accel; -b takes a file name.
func (c *createCmd) completeValue(o *getopt.Option, prefix string) ([]string, cobra.ShellCompDirective) {
	switch o.Long {
	case "format", "backing-format":
		return oneOf(prefix, formatNames()...)
	case "options":
		return completeOptionList(c.format, prefix)
	case "output":
		return oneOf(prefix, "human", "json")
	case "accel":
		return oneOf(prefix, "auto", "kvm", "process")
	case "backing":
		return nil, cobra.ShellCompDirectiveDefault
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completeOptionList completes the last element of an -o list for format:
// an option name (followed by "="), or after "=" one of the option's
// words.
func completeOptionList(format, list string) ([]string, cobra.ShellCompDirective) {
	f, err := imgopt.Lookup(format)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	// The last element starts after the last comma that is not half of
	// a ",," escape.
	start := 0
	for i := 0; i < len(list); i++ {
		if list[i] == ',' {
			if i+1 < len(list) && list[i+1] == ',' {
				i++
				continue
			}
			start = i + 1
		}
	}
	done, item := list[:start], list[start:]
	var out []string
	if name, val, ok := strings.Cut(item, "="); ok {
		for _, d := range f.Options {
			if d.Name != name {
				continue
			}
			for _, w := range optionWords(d) {
				if strings.HasPrefix(w, val) {
					out = append(out, done+name+"="+w)
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	for _, d := range f.Options {
		if strings.HasPrefix(d.Name, item) {
			out = append(out, done+d.Name+"=")
		}
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// optionWords are the values an option takes, where they are few: on and
// off for a bool, format names for backing_fmt, and otherwise the words
// its `-o help` text lists, in the ways qemu-img's texts list them:
// "(allowed values: a, b)", "{a (default) | b}", "one of a (default), b
// or c", "either 'a' or 'b'".
func optionWords(d imgopt.Desc) []string {
	switch {
	case d.Kind == imgopt.Bool:
		return []string{"on", "off"}
	case d.Name == "backing_fmt":
		return formatNames()
	case d.Kind != imgopt.String:
		return nil
	}
	h := d.Help
	var list string
	switch {
	case strings.Contains(h, "(allowed values: "):
		list, _, _ = strings.Cut(h[strings.Index(h, "(allowed values: ")+len("(allowed values: "):], ")")
	case strings.Contains(h, "{") && strings.Contains(h, "}"):
		list, _, _ = strings.Cut(h[strings.Index(h, "{")+1:], "}")
	case strings.Contains(h, "one of "):
		list = h[strings.Index(h, "one of ")+len("one of "):]
	case strings.Contains(h, "either "):
		list, _, _ = strings.Cut(h[strings.Index(h, "either ")+len("either "):], ".")
	default:
		return nil
	}
	var words []string
	for _, w := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == '|' || r == ' ' || r == '\'' }) {
		if w != "or" && w != "(default)" {
			words = append(words, w)
		}
	}
	return words
}
