package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"instar/getopt"
	"instar/imginspect"
)

// TestInspectUsageErrors: every usage error of inspect is one line and
// exit status 2, before any guest runs.
func TestInspectUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect"}, "expecting at least one file name"},
		{[]string{"inspect", "--colour", "x"}, "unrecognized option"},
		{[]string{"inspect", "-j", "0", "x"}, "invalid job count"},
		{[]string{"inspect", "-j", "two", "x"}, "invalid job count"},
		{[]string{"inspect", "-j", "1025", "x"}, "invalid job count"},
		{[]string{"inspect", "-j"}, "requires an argument"},
		{[]string{"inspect", "--expect-format", "qcow3", "x"}, "unknown format \"qcow3\""},
		{[]string{"inspect", "--allow-formats", "raw,,qcow2", "x"}, "unknown format \"\""},
		{[]string{"inspect", "--allow-formats", "raw,vhdy", "x"}, "unknown format \"vhdy\""},
		{[]string{"inspect", "--output=yaml", "x"}, "unknown output format"},
		{[]string{"inspect", "--accel", "xen", "x"}, "unknown accelerator"},
		{[]string{"inspect", "--timeout", "-1s", "x"}, "invalid duration"},
	} {
		err := Execute(c.args, io.Discard)
		var se *StatusError
		if !errors.As(err, &se) || se.Status != 2 || se.Quiet {
			t.Errorf("%q: %v, want a status 2 error", c.args, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%q: %q, want one line with %q", c.args, msg, c.want)
		}
	}
}

// TestInspectCompletion: format names after --expect-format and within
// --allow-formats' list.
func TestInspectCompletion(t *testing.T) {
	c := &inspectCmd{}
	got, _ := c.completeValue(&getopt.Option{Long: "expect-format"}, "vh")
	if strings.Join(got, " ") != "vhdx vhd" {
		t.Errorf("--expect-format vh: %q", got)
	}
	got, _ = c.completeValue(&getopt.Option{Long: "allow-formats"}, "raw,qc")
	if strings.Join(got, " ") != "raw,qcow2 raw,qcow" {
		t.Errorf("--allow-formats raw,qc: %q", got)
	}
}

// TestInspectStatuses: status 0 when every file is safe, 1 when any is not
// or could not be inspected (each such file one line on stderr, the rest
// still printed, in order), with the options reaching every inspection.
func TestInspectStatuses(t *testing.T) {
	fake := func(ctx context.Context, path string, opts imginspect.Options) (imginspect.Verdict, error) {
		if opts.ExpectFormat != "vhd" || fmt.Sprint(opts.AllowFormats) != "[vpc raw]" || opts.Accel == nil {
			return imginspect.Verdict{}, fmt.Errorf("%s: options %+v", path, opts)
		}
		switch {
		case strings.HasPrefix(path, "bad"):
			return imginspect.Verdict{}, fmt.Errorf("%s: could not open: \x1b[2Jgone\nmore", path)
		case strings.HasPrefix(path, "unsafe"):
			return imginspect.Verdict{Filename: path, Format: "qcow2", Formats: []string{"qcow2"},
				Failures: []imginspect.Failure{{Check: "backing_file", Reason: "b"}}}, nil
		}
		return imginspect.Verdict{Filename: path, Format: "raw", Formats: []string{}, Safe: true}, nil
	}
	for _, c := range []struct {
		files          []string
		status         int
		stdout, stderr string
	}{
		{[]string{"a", "b"}, 0, "a b ", ""},
		{[]string{"a", "unsafe1", "b"}, 1, "a unsafe1 b ", ""},
		{[]string{"bad1", "a", "bad2"}, 1, "bad1 a bad2 ", "instar: inspect: bad1: could not open:  [2Jgone more\ninstar: inspect: bad2: could not open:  [2Jgone more\n"},
	} {
		for _, out := range []string{"json", "human"} {
			var stdout, stderr bytes.Buffer
			cmd := &inspectCmd{out: out, accel: "process", jobs: 2, stderr: &stderr, inspect: fake,
				expect: "vhd", allow: "vhd,raw"}
			err := cmd.run(&stdout, c.files)
			status := 0
			var se *StatusError
			if errors.As(err, &se) {
				status = se.Status
				if !se.Quiet {
					t.Errorf("%q: status error not quiet: %v", c.files, err)
				}
			} else if err != nil {
				t.Fatalf("%q: %v", c.files, err)
			}
			var names string
			for _, l := range strings.Split(stdout.String(), "\n") {
				if out == "json" && l != "" {
					names += strings.Split(l, `"`)[3] + " "
				}
				if n, ok := strings.CutPrefix(l, "filename: "); ok {
					names += n + " "
				}
			}
			if n := strings.Count(stdout.String(), "not_inspected"); n != strings.Count(c.stderr, "\n") {
				t.Errorf("%q %s: %d not_inspected failures in %q", c.files, out, n, stdout.String())
			}
			if status != c.status || names != c.stdout || stderr.String() != c.stderr {
				t.Errorf("%q %s: status %d, files %q, stderr %q; want %d %q %q", c.files, out, status, names, stderr.String(), c.status, c.stdout, c.stderr)
			}
		}
	}
}
