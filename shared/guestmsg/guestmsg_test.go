package guestmsg_test

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"instar/shared/guestmsg"
	"instar/shared/guestpb"
	"instar/tools/msggen"
)

// same reports whether the protobuf library's message and guestmsg's
// struct hold the same values, field by field, walking the schema.
func same(pb protoreflect.Message, g reflect.Value) bool {
	if g.Kind() == reflect.Pointer {
		g = g.Elem()
	}
	fields := pb.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if o := f.ContainingOneof(); o != nil {
			payload := g.FieldByName(msggen.GoName(string(o.Name())))
			set := pb.WhichOneof(o)
			switch {
			case set == nil && !payload.IsNil():
				return false
			case set == nil:
				continue
			case set.Number() != f.Number():
				continue
			case payload.IsNil() || payload.Elem().Elem().Type().Name() != string(f.Message().Name()):
				return false
			case !same(pb.Get(f).Message(), payload.Elem()):
				return false
			}
			continue
		}
		got := g.FieldByName(msggen.GoName(string(f.Name())))
		if f.Kind() == protoreflect.MessageKind {
			if pb.Has(f) != !got.IsNil() || pb.Has(f) && !same(pb.Get(f).Message(), got) {
				return false
			}
			continue
		}
		if f.Kind() == protoreflect.BytesKind {
			if !bytes.Equal(got.Bytes(), pb.Get(f).Bytes()) {
				return false
			}
			continue
		}
		if got.Interface() != pb.Get(f).Interface() {
			return false
		}
	}
	return true
}

// check decodes b with both decoders and fails unless they agree.
func check(t *testing.T, b []byte) {
	t.Helper()
	var pb guestpb.GuestMessage
	pbErr := proto.Unmarshal(b, &pb)
	var g guestmsg.GuestMessage
	gErr := g.Unmarshal(b)
	shown := b[:min(len(b), 64)]
	if (pbErr == nil) != (gErr == nil) {
		t.Fatalf("%d bytes %x...: protobuf says %v, guestmsg says %v", len(b), shown, pbErr, gErr)
	}
	if pbErr == nil && !same(pb.ProtoReflect(), reflect.ValueOf(&g)) {
		t.Fatalf("%d bytes %x...: protobuf decodes %v, guestmsg %+v", len(b), shown, &pb, g)
	}
}

// randomMessage is a GuestMessage with random payload and values.
func randomMessage(r *rand.Rand) *guestpb.GuestMessage {
	str := func() string {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(0x20 + r.IntN(0x5f))
		}
		return string(b)
	}
	u64 := func() uint64 { return r.Uint64() >> r.IntN(64) }
	u32 := func() uint32 { return uint32(u64()) }
	createResult := func() *guestpb.CreateResultMessage {
		return &guestpb.CreateResultMessage{
			TargetFormat: str(), ResolvedVirtualSize: u64(), MetadataBytesWritten: u64(), FileSizeAfter: u64(),
			ResolvedUnitSize: u32(), Error: u32(), BackingFormat: str(), PreallocStart: u64(), PreallocEnd: u64()}
	}
	switch r.IntN(6) {
	case 0:
		return &guestpb.GuestMessage{Payload: &guestpb.GuestMessage_Progress{Progress: &guestpb.ProgressMessage{Done: u64(), Total: u64()}}}
	case 1:
		return &guestpb.GuestMessage{Payload: &guestpb.GuestMessage_Error{Error: &guestpb.ErrorMessage{Code: u32(), Message: str()}}}
	case 2:
		return &guestpb.GuestMessage{Payload: &guestpb.GuestMessage_Log{Log: &guestpb.LogMessage{Message: str()}}}
	case 3:
		c := &guestpb.CompleteMessage{Operation: str(), BytesWritten: u64(), Success: r.IntN(2) == 1}
		if r.IntN(2) == 1 {
			c.Result, _ = proto.Marshal(createResult())
		}
		return &guestpb.GuestMessage{Payload: &guestpb.GuestMessage_Complete{Complete: c}}
	case 4:
		return &guestpb.GuestMessage{Payload: &guestpb.GuestMessage_OutputSize{OutputSize: &guestpb.OutputSizeMessage{Output: u32(), Size: u64()}}}
	}
	return &guestpb.GuestMessage{}
}

// TestAgreesWithProtobuf decodes random messages, random concatenations of
// them (a repeated oneof member merges, another replaces), and random
// damage to them, with both decoders.
func TestAgreesWithProtobuf(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 30000; i++ {
		var b []byte
		for n := 1 + r.IntN(3); n > 0; n-- {
			m, err := proto.Marshal(randomMessage(r))
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, m...)
		}
		check(t, b)
		// Damage: flip, insert, delete or truncate.
		for d := r.IntN(4); d > 0 && len(b) > 0; d-- {
			switch p := r.IntN(len(b)); r.IntN(4) {
			case 0:
				b[p] ^= byte(1 << r.IntN(8))
			case 1:
				b = append(b[:p], append([]byte{byte(r.IntN(256))}, b[p:]...)...)
			case 2:
				b = append(b[:p], b[p+1:]...)
			case 3:
				b = b[:p]
			}
		}
		check(t, b)
	}
}

// TestCompletionResultAgrees decodes what a completion carries as its
// result (a create result, on its own) with both decoders.
func TestCompletionResultAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 3000; i++ {
		m := randomMessage(r).GetComplete()
		if len(m.GetResult()) == 0 {
			continue
		}
		var pb guestpb.CreateResultMessage
		var g guestmsg.CreateResultMessage
		if err := proto.Unmarshal(m.GetResult(), &pb); err != nil {
			t.Fatal(err)
		}
		if err := g.Unmarshal(m.GetResult()); err != nil || !same(pb.ProtoReflect(), reflect.ValueOf(&g)) {
			t.Fatalf("protobuf decodes %v, guestmsg %+v (%v)", &pb, g, err)
		}
	}
}

// TestEdgeCases covers the wire format's corners one by one.
func TestEdgeCases(t *testing.T) {
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	progress := func(inner []byte) []byte { return cat(tag(1, protowire.BytesType), protowire.AppendBytes(nil, inner)) }
	group := func(num protowire.Number, depth int) []byte {
		var b []byte
		for i := 0; i < depth; i++ {
			b = append(b, tag(num, protowire.StartGroupType)...)
		}
		for i := 0; i < depth; i++ {
			b = append(b, tag(num, protowire.EndGroupType)...)
		}
		return b
	}
	cases := map[string][]byte{
		"empty":                   nil,
		"field 0":                 {0x00, 0x00},
		"largest field number":    cat(tag(protowire.MaxValidNumber, protowire.VarintType), []byte{1}),
		"field number too large":  cat(protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3), []byte{1}),
		"wire type 6":             {0x0e, 0x00},
		"wire type 7":             {0x0f, 0x00},
		"ten-byte varint":         cat(tag(99, protowire.VarintType), bytes.Repeat([]byte{0xff}, 9), []byte{0x01}),
		"varint overflow":         cat(tag(99, protowire.VarintType), bytes.Repeat([]byte{0xff}, 9), []byte{0x02}),
		"eleven-byte varint":      cat(tag(99, protowire.VarintType), bytes.Repeat([]byte{0x80}, 10), []byte{0x00}),
		"non-minimal varint":      progress(cat(tag(1, protowire.VarintType), []byte{0x81, 0x80, 0x00})),
		"fixed64 unknown":         cat(tag(99, protowire.Fixed64Type), make([]byte, 8)),
		"fixed64 truncated":       cat(tag(99, protowire.Fixed64Type), make([]byte, 7)),
		"fixed32 unknown":         cat(tag(99, protowire.Fixed32Type), make([]byte, 4)),
		"fixed32 truncated":       cat(tag(99, protowire.Fixed32Type), make([]byte, 3)),
		"known field, wrong type": progress(cat(tag(1, protowire.Fixed64Type), make([]byte, 8))),
		"payload as varint":       cat(tag(1, protowire.VarintType), []byte{5}),
		"lone end group":          tag(99, protowire.EndGroupType),
		"unknown group":           group(99, 3),
		"mismatched group":        cat(tag(99, protowire.StartGroupType), tag(98, protowire.EndGroupType)),
		"unterminated group":      tag(99, protowire.StartGroupType),
		// Inside a skipped group the library allows any positive int32.
		"group holding field 2^29":   cat(tag(99, protowire.StartGroupType), protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3), []byte{1}, tag(99, protowire.EndGroupType)),
		"group holding field 2^31-1": cat(tag(99, protowire.StartGroupType), protowire.AppendVarint(nil, uint64(1<<31-1)<<3), []byte{1}, tag(99, protowire.EndGroupType)),
		"group holding field 2^31":   cat(tag(99, protowire.StartGroupType), protowire.AppendVarint(nil, uint64(1<<31)<<3), []byte{1}, tag(99, protowire.EndGroupType)),
		"groups 10001 deep":          group(99, 10001),
		"groups 10002 deep":          group(99, 10002),
		"invalid UTF-8":              cat(tag(3, protowire.BytesType), protowire.AppendBytes(nil, cat(tag(1, protowire.BytesType), protowire.AppendBytes(nil, []byte{0xff})))),
		"invalid UTF-8 unknown":      cat(tag(99, protowire.BytesType), protowire.AppendBytes(nil, []byte{0xff})),
		"length past end":            cat(tag(3, protowire.BytesType), []byte{0x7f, 0x00}),
		"huge length":                cat(tag(3, protowire.BytesType), protowire.AppendVarint(nil, 1<<62)),
		"bool 2":                     cat(tag(4, protowire.BytesType), protowire.AppendBytes(nil, cat(tag(3, protowire.VarintType), []byte{2}))),
		"uint32 from a 64-bit value": cat(tag(2, protowire.BytesType), protowire.AppendBytes(nil, cat(tag(1, protowire.VarintType), protowire.AppendVarint(nil, 1<<40|7)))),
		"progress merged":            cat(progress(cat(tag(1, protowire.VarintType), []byte{5})), progress(cat(tag(2, protowire.VarintType), []byte{6}))),
		"progress then log":          cat(progress(cat(tag(1, protowire.VarintType), []byte{5})), tag(3, protowire.BytesType), []byte{0}),
		"complete, empty result":     cat(tag(4, protowire.BytesType), protowire.AppendBytes(nil, cat(tag(4, protowire.BytesType), []byte{0}))),
		"complete, result replaced": cat(tag(4, protowire.BytesType), protowire.AppendBytes(nil, cat(
			tag(4, protowire.BytesType), protowire.AppendBytes(nil, cat(tag(2, protowire.VarintType), []byte{7})),
			tag(4, protowire.BytesType), protowire.AppendBytes(nil, cat(tag(6, protowire.VarintType), []byte{3}))))),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) { check(t, b) })
	}
}

// FuzzAgreesWithProtobuf is the same check over the fuzzer's inputs.
func FuzzAgreesWithProtobuf(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20; i++ {
		m, err := proto.Marshal(randomMessage(r))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, b []byte) { check(t, b) })
}

// TestGenerated checks that guestmsg.go is what tools/msggen writes for
// guest.proto now.
func TestGenerated(t *testing.T) {
	t.Chdir("../..")
	stale, err := msggen.Stale("shared/guest.proto", "shared/guestmsg/guestmsg.go")
	if err != nil {
		t.Fatal(err)
	}
	if stale {
		t.Fatal("shared/guestmsg/guestmsg.go is stale: run `go run mage.go generate`")
	}
}
