//go:build cgo

// Package enc compiles the inspect operation's message encoder for the
// host, so that tests decode, with the protobuf library and the host's
// decoder, exactly what the guest sends.
package enc

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include -I${SRCDIR}/../../../format -I${SRCDIR}/../../../core -std=c11 -Wall -Wextra -Werror
#include <stdlib.h>
#include "inspectenc.h"
#include "../../../core/pb.c"
*/
import "C"

import (
	"unsafe"

	"instar/shared"
)

// Cap is the buffer the guest encodes a message into.
const Cap = shared.MaxMessageSize

// Report is the part of struct inspect_report the completion carries.
type Report struct {
	Formats        uint64
	Format         uint32
	HasVirtualSize bool
	VirtualSize    uint64
	Failures       uint32
}

// Failure encodes one failed check; 0 if it does not fit.
func Failure(b []byte, check uint32, reason string) int {
	p := C.CString(reason)
	defer C.free(unsafe.Pointer(p))
	return int(C.inspectenc_failure((*C.uint8_t)(unsafe.Pointer(&b[0])), C.uint32_t(len(b)), C.uint32_t(check), p))
}

// Complete encodes the completion for err and r; 0 if it does not fit.
func Complete(b []byte, err uint32, r Report) int {
	var c C.struct_inspect_report
	c.formats, c.format = C.uint64_t(r.Formats), C.uint32_t(r.Format)
	if r.HasVirtualSize {
		c.has_virtual_size = 1
	}
	c.virtual_size, c.failures = C.uint64_t(r.VirtualSize), C.uint32_t(r.Failures)
	return int(C.inspectenc_complete((*C.uint8_t)(unsafe.Pointer(&b[0])), C.uint32_t(len(b)), C.uint32_t(err), &c))
}
