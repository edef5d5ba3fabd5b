package vmm

import (
	"errors"
	"strings"
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
