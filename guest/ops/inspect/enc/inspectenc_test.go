//go:build cgo

package enc

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"instar/shared"
	"instar/shared/guestmsg"
	"instar/shared/guestpb"
)

// decode checks that the protobuf library and the host's decoder both
// read what encode writes, and returns the host's reading.
func decode(t *testing.T, encode func([]byte) int) *guestmsg.GuestMessage {
	t.Helper()
	b := make([]byte, Cap)
	n := encode(b)
	if n == 0 || n > shared.MaxMessageSize {
		t.Fatalf("encoded %d bytes; want 1 to %d", n, shared.MaxMessageSize)
	}
	var pb guestpb.GuestMessage
	if err := proto.Unmarshal(b[:n], &pb); err != nil {
		t.Fatalf("the protobuf library cannot decode it: %v", err)
	}
	var m guestmsg.GuestMessage
	if err := m.Unmarshal(b[:n]); err != nil {
		t.Fatalf("the host cannot decode it: %v", err)
	}
	return &m
}

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
