//go:build cgo

package enc

import (
	"math"
	"strings"
	"testing"

	"instar/shared"
	"instar/shared/guestmsg"
	"instar/shared/guestmsg/msgtest"
)

// decode is msgtest.Decode: both decoders read what the guest encodes.
var decode = msgtest.Decode

func TestFailure(t *testing.T) {
	for _, c := range []struct {
		reason, want string
	}{
		{"image has a backing file", "image has a backing file"},
		{"", ""},
		{strings.Repeat("r", 500), strings.Repeat("r", 159)},
	} {
		f := decode(t, func(b []byte) int { return Failure(b, shared.InspectCheckBackingFile, c.reason) }).GetInspectFailure()
		if f == nil || f.GetCheck() != shared.InspectCheckBackingFile || f.GetReason() != c.want {
			t.Errorf("%q: got %+v", c.reason, f)
		}
	}
}

func TestComplete(t *testing.T) {
	want := Report{Formats: 1<<shared.InspectFmtIso | 1<<shared.InspectFmtGpt, Format: shared.InspectFmtIso,
		HasVirtualSize: true, VirtualSize: math.MaxUint64, Failures: shared.InspectMaxFailures}
	for _, err := range []uint32{shared.InspectErrOK, shared.InspectErrReadFailed} {
		c := decode(t, func(b []byte) int { return Complete(b, err, want) }).GetComplete()
		if c.GetOperation() != "inspect" || c.GetSuccess() != (err == shared.InspectErrOK) {
			t.Fatalf("complete %v", c)
		}
		var r guestmsg.InspectResultMessage
		if e := r.Unmarshal(c.GetResult()); e != nil {
			t.Fatal(e)
		}
		got := Report{r.GetFormats(), r.GetFormat(), r.GetHasVirtualSize(), r.GetVirtualSize(), r.GetFailures()}
		if r.GetError() != err || got != want {
			t.Errorf("err %d: result %+v, want %+v", err, &r, want)
		}
	}
}
