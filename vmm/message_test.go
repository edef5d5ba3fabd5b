package vmm

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"instar/shared/guestpb"
)

// TestOneCreateResult: a create result may come alone or with the
// completion message, but only once.
func TestOneCreateResult(t *testing.T) {
	enc := func(m *guestpb.GuestMessage) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	result := &guestpb.CreateResultMessage{TargetFormat: "qcow2", FileSizeAfter: 196608}
	alone := enc(&guestpb.GuestMessage{Payload: &guestpb.GuestMessage_CreateResult{CreateResult: result}})
	withComplete := enc(&guestpb.GuestMessage{Payload: &guestpb.GuestMessage_Complete{
		Complete: &guestpb.CompleteMessage{Operation: "create", Success: true, CreateResult: result}}})

	m := &machine{res: &Result{}}
	if err := m.message(withComplete); err != nil {
		t.Fatal(err)
	}
	if m.res.Complete == nil || m.res.CreateResult.GetFileSizeAfter() != 196608 {
		t.Fatalf("result %+v", m.res)
	}

	m = &machine{res: &Result{}}
	if err := m.message(alone); err != nil {
		t.Fatal(err)
	}
	if err := m.message(withComplete); !errors.Is(err, errBadMessage) {
		t.Fatalf("a second create result: %v, want a bad message", err)
	}
}
