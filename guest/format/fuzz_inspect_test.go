//go:build cgo

package format

// The fuzz target of the inspect entry point, fmt_inspect_image, over
// arbitrary files: what must hold for any input is in checkInspect. The
// seeds are the info targets' corpora (small qemu-img images of every
// format) and the parsers'.

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"instar/shared"
)

// checkInspect runs fmt_inspect_image over im twice and checks what
// must hold for any input: the same verdict both times, a verdict
// whenever the file can be read, formats and checks in range (no check
// the host alone makes), the claimed format among the claimants, as many
// failures counted as sent, each with a bounded, printable reason, and a
// polyglot failure whenever several formats claim the file.
func checkInspect(t *testing.T, im *fuzzImage) {
	t.Helper()
	got, code := Inspect(im, im.size, inspectScratch)
	again, code2 := Inspect(im, im.size, inspectScratch)
	if code != code2 || !reflect.DeepEqual(got, again) {
		t.Fatalf("not deterministic: %d %+v then %d %+v", code, got, code2, again)
	}
	if code != shared.InspectErrOK {
		t.Fatalf("no verdict: code %d", code)
	}
	if got.Format >= shared.InspectFmtCount || got.Formats>>shared.InspectFmtCount != 0 {
		t.Fatalf("format %d, formats %#x out of range", got.Format, got.Formats)
	}
	const hybridISO = 1<<shared.InspectFmtIso | 1<<shared.InspectFmtGpt
	switch {
	case got.Formats == 0:
		if got.Format != shared.InspectFmtRaw {
			t.Fatalf("no claimant, yet format %d", got.Format)
		}
	case got.Formats&(1<<got.Format) == 0:
		t.Fatalf("format %d is not among the claimants %#x", got.Format, got.Formats)
	}
	if int(got.Failures) != len(got.FailureList) {
		t.Fatalf("%d failures counted, %d sent", got.Failures, len(got.FailureList))
	}
	polyglot := false
	for _, f := range got.FailureList {
		if f.Check >= shared.InspectCheckCount || f.Check == shared.InspectCheckExpectFormat ||
			f.Check == shared.InspectCheckAllowFormats {
			t.Fatalf("check %d the guest may not send", f.Check)
		}
		if f.Reason == "" || len(f.Reason) >= 160 || !utf8.ValidString(f.Reason) ||
			strings.ContainsFunc(f.Reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("check %s: reason %q", shared.InspectChecks[f.Check].Name, f.Reason)
		}
		polyglot = polyglot || f.Check == shared.InspectCheckPolyglot
	}
	several := got.Formats&(got.Formats-1) != 0
	if several && got.Formats != hybridISO && !polyglot {
		t.Fatalf("formats %#x claim the file, yet no polyglot failure", got.Formats)
	}
	if polyglot && (!several || got.Formats == hybridISO) {
		t.Fatalf("polyglot failure with claimants %#x", got.Formats)
	}
}

// FuzzInspect is inspect over the bytes as they come.
func FuzzInspect(f *testing.F) {
	addInfoSeeds(f, 0)
	f.Fuzz(func(t *testing.T, in []byte) {
		checkInspect(t, decodeImage(in))
	})
}
