package cli

import (
	"errors"
	"io"
	"strings"
	"testing"

	"instar/getopt"
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
