package vmm

import (
	"bytes"
	"errors"
	"strings"
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

// TestKeptMessagesBounded: however many errors and logs a guest sends, and
// however long, a run keeps the first and last few, each cut short, and
// counts the rest.
func TestKeptMessagesBounded(t *testing.T) {
	long := strings.Repeat("x", 8000)
	for _, n := range []int{0, 1, KeptMessages, KeptMessages + 1, 1000} {
		m := &machine{res: &Result{}}
		for i := 0; i < n; i++ {
			e, err := proto.Marshal(&guestpb.GuestMessage{Payload: &guestpb.GuestMessage_Error{
				Error: &guestpb.ErrorMessage{Code: uint32(i), Message: long}}})
			if err != nil {
				t.Fatal(err)
			}
			l, err := proto.Marshal(&guestpb.GuestMessage{Payload: &guestpb.GuestMessage_Log{
				Log: &guestpb.LogMessage{Message: long}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.message(e); err != nil {
				t.Fatal(err)
			}
			if err := m.message(l); err != nil {
				t.Fatal(err)
			}
		}
		kept := min(n, KeptMessages)
		if len(m.res.Errors) != kept || len(m.res.Logs) != kept ||
			m.res.ErrorsDropped != n-kept || m.res.LogsDropped != n-kept {
			t.Fatalf("%d sent: kept %d errors, %d logs; dropped %d, %d", n, len(m.res.Errors), len(m.res.Logs),
				m.res.ErrorsDropped, m.res.LogsDropped)
		}
		for i, e := range m.res.Errors {
			want := uint32(i)
			if i >= KeptMessages/2 && n > KeptMessages {
				want = uint32(n - KeptMessages + i)
			}
			if e.Code != want {
				t.Errorf("%d sent: error %d has code %d, want %d (the first and the last)", n, i, e.Code, want)
			}
			if len(e.Message) != MaxKeptMessage {
				t.Errorf("error text kept at %d bytes", len(e.Message))
			}
		}
		for _, l := range m.res.Logs {
			if len(l) != MaxKeptMessage {
				t.Errorf("log text kept at %d bytes", len(l))
			}
		}
	}
}

// TestOperationMessagesBounded: a guest that sends more operation messages
// than any operation needs is stopped, not kept growing the VMM.
func TestOperationMessagesBounded(t *testing.T) {
	m := &machine{res: &Result{}}
	one, err := proto.Marshal(&guestpb.GuestMessage{Payload: &guestpb.GuestMessage_OutputSize{
		OutputSize: &guestpb.OutputSizeMessage{Output: 1, Size: 4096}}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; n <= MaxKeptOther && err == nil; n++ {
		err = m.message(one)
	}
	if !errors.Is(err, errBadMessage) || n != MaxKeptOther+1 || len(m.res.Messages) != MaxKeptOther {
		t.Fatalf("after %d messages: %v, %d kept; want a bad message after %d", n, err, len(m.res.Messages), MaxKeptOther)
	}
}
