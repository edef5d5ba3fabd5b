package vmm

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"instar/shared/guestpb"
)

// TestMessagesPassThrough: the VMM hands the completion's result and the
// operation's own messages on as the guest sent them, and refuses a
// message with no payload it can name.
func TestMessagesPassThrough(t *testing.T) {
	enc := func(m *guestpb.GuestMessage) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	payload := []byte("\x08\x01 operation-defined bytes")
	m := &machine{res: &Result{}}
	size := enc(&guestpb.GuestMessage{Payload: &guestpb.GuestMessage_OutputSize{OutputSize: &guestpb.OutputSizeMessage{Output: 7, Size: 4096}}})
	complete := enc(&guestpb.GuestMessage{Payload: &guestpb.GuestMessage_Complete{
		Complete: &guestpb.CompleteMessage{Operation: "create", Success: true, Result: payload}}})
	for _, b := range [][]byte{size, complete} {
		if err := m.message(b); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(m.res.Complete.GetResult(), payload) {
		t.Errorf("completion result %q, want %q", m.res.Complete.GetResult(), payload)
	}
	if len(m.res.Messages) != 1 || m.res.Messages[0].GetOutputSize().GetSize() != 4096 {
		t.Errorf("messages %v, want the output size", m.res.Messages)
	}
	if err := m.message(enc(&guestpb.GuestMessage{})); !errors.Is(err, errBadMessage) {
		t.Errorf("an empty message: %v, want a bad message", err)
	}
}
