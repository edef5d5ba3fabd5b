// Package msgtest is for tests of the guest's message encoders: it holds
// what the guest encodes to both decoders, the protobuf library's (the
// reference) and the host's.
package msgtest

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"instar/shared"
	"instar/shared/guestmsg"
	"instar/shared/guestpb"
)

// Decode runs encode over a buffer of a guest's message size, checks
// that it wrote a message of 1 to shared.MaxMessageSize bytes that the
// protobuf library and the host's decoder both read, and returns the
// host's reading.
func Decode(t testing.TB, encode func([]byte) int) *guestmsg.GuestMessage {
	t.Helper()
	b := make([]byte, shared.MaxMessageSize)
	n := encode(b)
	if n == 0 || n > shared.MaxMessageSize {
		t.Fatalf("encoded %d bytes; want 1 to %d", n, shared.MaxMessageSize)
	}
	var pb guestpb.GuestMessage
	if err := proto.Unmarshal(b[:n], &pb); err != nil {
		t.Fatalf("the protobuf library cannot decode what the guest encodes: %v", err)
	}
	var m guestmsg.GuestMessage
	if err := m.Unmarshal(b[:n]); err != nil {
		t.Fatalf("the host cannot decode what the guest encodes: %v", err)
	}
	return &m
}
