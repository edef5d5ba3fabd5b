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
	names := imgopt.Formats()
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
		words := f.Words(name)
		if name == "backing_fmt" {
			words = formatNames()
		}
		for _, w := range words {
			if strings.HasPrefix(w, val) {
				out = append(out, done+name+"="+w)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	for _, name := range f.Options() {
		if strings.HasPrefix(name, item) {
			out = append(out, done+name+"=")
		}
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}
