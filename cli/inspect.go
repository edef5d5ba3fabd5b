package cli

import (
	"context"

	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"instar/getopt"
	"instar/imginspect"
	"instar/shared"
	"instar/vmm/accel"
)

// maxJobs bounds -j: each job is a guest with its own memory.
const maxJobs = 1024

func inspectCommand() *cobra.Command {
	return withOptions(&cobra.Command{
		Use:   "inspect [--expect-format FMT] [--allow-formats LIST] [--output=human|json] [-j N] FILE...",
		Short: "Say whether untrusted images are safe to hand to qemu",
		Long: `Inspect each file in a sandboxed guest and say whether it is safe: every
format that claims it, the format it is taken to be, its virtual size, and
each failed safety check by the names OpenStack's format inspector uses
(see docs/inspect.md). The host never parses the files' bytes and opens
nothing they name. Files are inspected in parallel guests (-j, default the
number of CPUs); the verdicts are printed in the order the files are given,
in JSON one line per file.

Exit status: 0 when every file is safe, 1 when any is not or could not be
inspected (each such file gets a line on stderr and a verdict failing
not_inspected; the rest are still inspected), 2 on a usage error.`,
		Example: `  instar inspect upload.img
  instar inspect --expect-format qcow2 --output=json upload.img
  instar inspect --allow-formats raw,qcow2 -j 4 *.img`,
	}, func() optionCommand {
		return &inspectCmd{out: "human", accel: "auto", jobs: runtime.NumCPU(), stderr: os.Stderr, inspect: imginspect.Inspect}
	})
}

// inspectCmd is `instar inspect`.
type inspectCmd struct {
	expect, allow, out, accel string
	jobs                      int
	timeout                   time.Duration
	stderr                    io.Writer
	// inspect is imginspect.Inspect, or a stand-in in tests.
	inspect func(ctx context.Context, path string, opts imginspect.Options) (imginspect.Verdict, error)
}

func (c *inspectCmd) options() []getopt.Option {
	return append([]getopt.Option{
		{Long: "expect-format", Arg: "FMT", Help: "fail expect_format unless the file is FMT (vhd names vpc)", Set: getopt.String(&c.expect)},
		{Long: "allow-formats", Arg: "LIST", Help: "fail allow_formats unless the file is one of the comma-separated formats", Set: getopt.String(&c.allow)},
		{Long: "output", Arg: "FMT", Help: "output format: human (default) or json (one line per file)", Set: getopt.String(&c.out)},
		{Short: 'j', Long: "jobs", Arg: "N", Help: "inspect up to N files at once (default: the number of CPUs)", Set: func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxJobs {
				return fmt.Errorf("invalid job count %q (want 1 to %d)", v, maxJobs)
			}
			c.jobs = n
			return nil
		}},
	}, guestOptions(&c.accel, &c.timeout, true)...)
}

// usageStatus makes getopt's refusals exit with status 2, as inspect's
// other usage errors do.
func (c *inspectCmd) usageStatus() int { return 2 }

func usage(format string, args ...any) error {
	return &StatusError{Status: 2, Err: fmt.Errorf("inspect: "+format, args...)}
}

func (c *inspectCmd) run(stdout io.Writer, files []string) error {
	if c.out != "human" && c.out != "json" {
		return usage("unknown output format %q (want human or json)", c.out)
	}
	if len(files) == 0 {
		return usage("expecting at least one file name")
	}
	if c.expect != "" {
		if _, err := imginspect.ParseFormat(c.expect); err != nil {
			return usage("--expect-format: %v", err)
		}
	}
	var allow []string
	if c.allow != "" {
		var err error
		if allow, err = imginspect.ParseFormatList(c.allow); err != nil {
			return usage("--allow-formats: %v", err)
		}
	}
	acc, err := accel.Get(c.accel)
	if err != nil {
		return usage("%v", err)
	}
	if err := accel.CheckUsable(acc); err != nil {
		return err
	}
	opts := imginspect.Options{Accel: acc, Deadline: c.timeout, ExpectFormat: c.expect, AllowFormats: allow}
	bad, failed, printed := 0, 0, 0
	var werr error
	imginspect.Batch(context.Background(), files, c.jobs, func(ctx context.Context, path string) (imginspect.Verdict, error) {
		return c.inspect(ctx, path, opts)
	}, func(i int, o imginspect.Outcome) {
		if o.Err != nil {
			// The error on stderr, and a verdict on stdout as for
			// every file: a consumer of the JSON lines gets one line
			// per file, in order, whatever happened to each.
			failed++
			fmt.Fprintf(c.stderr, "instar: inspect: %s\n", oneLine(o.Err.Error()))
			o.Verdict = imginspect.NotInspected(files[i], o.Err)
		} else if !o.Verdict.Safe {
			bad++
		}
		var text []byte
		if c.out == "json" {
			text = imginspect.JSON(&o.Verdict)
		} else {
			text = imginspect.Human(&o.Verdict)
			if printed > 0 {
				text = append([]byte("\n"), text...)
			}
		}
		printed++
		if _, err := stdout.Write(text); err != nil && werr == nil {
			werr = err
		}
	})
	switch {
	case werr != nil:
		return werr
	case bad > 0 || failed > 0:
		return &StatusError{Status: 1, Quiet: true, Err: fmt.Errorf("%d of %d files not safe, %d not inspected", bad, len(files), failed)}
	}
	return nil
}

// oneLine keeps an error on one line of printable text.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// completeValue completes inspect's option arguments: format names after
// --expect-format and in --allow-formats' list, the words of --output and
// --accel.
func (c *inspectCmd) completeValue(o *getopt.Option, prefix string) ([]string, cobra.ShellCompDirective) {
	names := append(shared.InspectFormatNames[:len(shared.InspectFormatNames):len(shared.InspectFormatNames)], "vhd")
	switch o.Long {
	case "expect-format":
		return oneOf(prefix, names...)
	case "allow-formats":
		done := prefix[:strings.LastIndexByte(prefix, ',')+1]
		var out []string
		for _, n := range names {
			if strings.HasPrefix(done+n, prefix) {
				out = append(out, done+n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	case "output":
		return oneOf(prefix, "human", "json")
	case "accel":
		return oneOf(prefix, accel.Names()...)
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}
