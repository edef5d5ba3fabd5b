package core

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"instar/shared"
	"instar/shared/guestmsg"
	"instar/shared/guestmsg/msgtest"
	"instar/shared/guestpb"
)

// decode is msgtest.Decode: both decoders read what the guest encodes.
var decode = msgtest.Decode

// maxText is longer than the encoder's 1024-byte string cap, with bytes
// that must not reach the host as they are.
var maxText = strings.Repeat("x\x1b\xff", 700)

func TestEveryMessageDecodes(t *testing.T) {
	const max = math.MaxUint64
	p := decode(t, func(b []byte) int { return EncodeProgress(b, max, max) }).GetProgress()
	if p.GetDone() != max || p.GetTotal() != max {
		t.Errorf("progress %v", p)
	}
	e := decode(t, func(b []byte) int { return EncodeError(b, math.MaxUint32, maxText) }).GetError()
	if e.GetCode() != math.MaxUint32 || len(e.GetMessage()) != 1024 || strings.ContainsAny(e.GetMessage(), "\x1b\xff") {
		t.Errorf("error: code %d, %d-byte message", e.GetCode(), len(e.GetMessage()))
	}
	l := decode(t, func(b []byte) int { return EncodeLog(b, maxText) }).GetLog()
	if len(l.GetMessage()) != 1024 || l.GetMessage()[:3] != "x??" {
		t.Errorf("log: %d bytes", len(l.GetMessage()))
	}
	c := decode(t, func(b []byte) int { return EncodeComplete(b, maxText, max, true) }).GetComplete()
	if len(c.GetOperation()) != 1024 || c.GetBytesWritten() != max || !c.GetSuccess() {
		t.Errorf("complete: %d-byte op, %d, %v", len(c.GetOperation()), c.GetBytesWritten(), c.GetSuccess())
	}
	c = decode(t, func(b []byte) int { return EncodeComplete(b, "create", 0, false) }).GetComplete()
	if c.GetOperation() != "create" || c.GetSuccess() || c.GetBytesWritten() != 0 {
		t.Errorf("complete %v", c)
	}
	full := shared.CreateResult{
		Magic: shared.CreateResultMagic, TargetFormat: shared.FormatVhdx, ResolvedVirtualSize: max,
		MetadataBytesWritten: max, FileSizeAfter: max, ResolvedUnitSize: math.MaxUint32,
		Error: math.MaxUint32, BackingFormat: shared.FormatQcow2, PreallocStart: max - 1, PreallocEnd: max,
	}
	cc := decode(t, func(b []byte) int { return EncodeCompleteCreate(b, maxText, max, true, full) }).GetComplete()
	r := resultOf(t, cc)
	if len(cc.GetOperation()) != 1024 || cc.GetBytesWritten() != max || !cc.GetSuccess() ||
		r.GetTargetFormat() != "vhdx" || r.GetBackingFormat() != "qcow2" || r.GetResolvedVirtualSize() != max ||
		r.GetMetadataBytesWritten() != max || r.GetFileSizeAfter() != max || r.GetResolvedUnitSize() != math.MaxUint32 ||
		r.GetError() != math.MaxUint32 || r.GetPreallocStart() != max-1 || r.GetPreallocEnd() != max {
		t.Errorf("complete with create result: %+v, %+v", cc, r)
	}
	o := decode(t, func(b []byte) int { return EncodeOutputSize(b, math.MaxUint32, max) }).GetOutputSize()
	if o.GetOutput() != math.MaxUint32 || o.GetSize() != max {
		t.Errorf("output size %v", o)
	}
	r = resultOf(t, decode(t, func(b []byte) int {
		return EncodeCompleteCreate(b, "create", 0, true, shared.CreateResult{TargetFormat: 99})
	}).GetComplete())
	if r.GetTargetFormat() != "" {
		t.Errorf("unknown format encoded as %q", r.GetTargetFormat())
	}
}

// resultOf decodes a completion's result as a create result.
func resultOf(t *testing.T, c *guestmsg.CompleteMessage) *guestmsg.CreateResultMessage {
	t.Helper()
	var r guestmsg.CreateResultMessage
	if err := r.Unmarshal(c.GetResult()); err != nil {
		t.Fatalf("completion result: %v", err)
	}
	var ref guestpb.CreateResultMessage
	if err := proto.Unmarshal(c.GetResult(), &ref); err != nil || ref.GetFileSizeAfter() != r.GetFileSizeAfter() {
		t.Fatalf("the protobuf library reads the completion result as %v (%v)", &ref, err)
	}
	return &r
}

// A buffer too small for a message gives 0, never a truncated message.
func TestSmallBufferGivesNothing(t *testing.T) {
	full := make([]byte, Cap)
	n := EncodeLog(full, "hello")
	for c := 1; c < n; c++ {
		if got := EncodeLog(make([]byte, c), "hello"); got != 0 {
			t.Fatalf("cap %d: encoded %d bytes of a %d-byte message", c, got, n)
		}
	}
}
