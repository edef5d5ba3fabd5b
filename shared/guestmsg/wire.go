// Package guestmsg holds the guest's messages (shared/guest.proto) as plain
// Go structs and decodes them from the protobuf wire format without the
// protobuf runtime, whose start-up work (registering the file descriptor,
// hashing the executable) would otherwise be paid by every instar command.
// The structs and their decoders (guestmsg.go) are generated from
// guest.proto by tools/msggen; this file is the wire-format reader they
// share. Tests check every decode against the protobuf library's.
package guestmsg

import (
	"errors"
	"unicode/utf8"
)

// Wire types of the protobuf encoding.
const (
	wireVarint     = 0
	wireFixed64    = 1
	wireBytes      = 2
	wireStartGroup = 3
	wireEndGroup   = 4
	wireFixed32    = 5
)

// Field numbers outside [1, maxField] are invalid.
const maxField = 1<<29 - 1

// maxGroupField is the largest field number the protobuf library accepts
// inside an unknown group it skips: there it checks tags as
// protowire.ConsumeTag does, which allows any positive int32 (MessageSet
// numbers), not only a message's own field numbers.
const maxGroupField = 1<<31 - 1

// maxDepth bounds the nesting of unknown groups, as the protobuf library's
// default recursion limit does.
const maxDepth = 10000

// Decoding errors. Unmarshal wraps them with the field they occurred in.
var (
	errTruncated = errors.New("truncated field")
	errOverflow  = errors.New("varint overflows 64 bits")
	errFieldNum  = errors.New("invalid field number")
	errWireType  = errors.New("invalid wire type")
	errGroup     = errors.New("unbalanced group")
	errDepth     = errors.New("groups nested too deeply")
	errUTF8      = errors.New("string field contains invalid UTF-8")
)

// consumeVarint decodes a varint at the start of b and returns it with its
// length.
func consumeVarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		if i >= len(b) {
			return 0, 0, errTruncated
		}
		c := b[i]
		if i == 9 && c > 1 {
			return 0, 0, errOverflow
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errOverflow
}

// consumeTag decodes a message field's tag.
func consumeTag(b []byte) (num uint64, typ int, n int, err error) {
	return consumeTagUpTo(b, maxField)
}

// consumeTagUpTo decodes a tag whose field number must be at most max.
func consumeTagUpTo(b []byte, max uint64) (num uint64, typ int, n int, err error) {
	v, n, err := consumeVarint(b)
	if err != nil {
		return 0, 0, 0, err
	}
	num = v >> 3
	if num < 1 || num > max {
		return 0, 0, 0, errFieldNum
	}
	return num, int(v & 7), n, nil
}

// consumeBytes decodes a length-delimited value and returns its contents
// and the length consumed.
func consumeBytes(b []byte) ([]byte, int, error) {
	l, n, err := consumeVarint(b)
	if err != nil {
		return nil, 0, err
	}
	if l > uint64(len(b)-n) {
		return nil, 0, errTruncated
	}
	return b[n : n+int(l)], n + int(l), nil
}

// consumeString decodes a proto3 string, which must be valid UTF-8.
func consumeString(b []byte) (string, int, error) {
	v, n, err := consumeBytes(b)
	if err != nil {
		return "", 0, err
	}
	if !utf8.Valid(v) {
		return "", 0, errUTF8
	}
	return string(v), n, nil
}

// skipField returns the length of the value of a field this decoder does
// not know (or knows with another wire type), which is skipped.
func skipField(num uint64, typ int, b []byte, depth int) (int, error) {
	switch typ {
	case wireVarint:
		_, n, err := consumeVarint(b)
		return n, err
	case wireFixed64:
		if len(b) < 8 {
			return 0, errTruncated
		}
		return 8, nil
	case wireFixed32:
		if len(b) < 4 {
			return 0, errTruncated
		}
		return 4, nil
	case wireBytes:
		_, n, err := consumeBytes(b)
		return n, err
	case wireStartGroup:
		if depth > maxDepth {
			return 0, errDepth
		}
		for off := 0; ; {
			inner, t, n, err := consumeTagUpTo(b[off:], maxGroupField)
			if err != nil {
				return 0, err
			}
			off += n
			if t == wireEndGroup {
				if inner != num {
					return 0, errGroup
				}
				return off, nil
			}
			m, err := skipField(inner, t, b[off:], depth+1)
			if err != nil {
				return 0, err
			}
			off += m
		}
	case wireEndGroup:
		return 0, errGroup
	}
	return 0, errWireType
}
