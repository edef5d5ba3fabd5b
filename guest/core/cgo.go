//go:build cgo

// Package core compiles guest core's C sources for the host (the entry
// point lives in entry/, apart, so it is not), so tests can decode with the
// Go protobuf library exactly what core's message encoder produces.
package core

/*
#cgo CFLAGS: -I${SRCDIR}/../include -std=c11 -Wall -Wextra -Werror
#include <stdlib.h>
#include "msgenc.h"
*/
import "C"

import (
	"unsafe"

	"instar/shared"
)

// Cap is the buffer the guest encodes a message into.
const Cap = shared.MaxMessageSize

func ptr(b []byte) *C.uint8_t { return (*C.uint8_t)(unsafe.Pointer(&b[0])) }

func cstring(s string, f func(*C.char) C.uint32_t) int {
	t := C.CString(s)
	defer C.free(unsafe.Pointer(t))
	return int(f(t))
}

// EncodeProgress encodes a progress message into b, returning its length
// (0 if it does not fit).
func EncodeProgress(b []byte, done, total uint64) int {
	return int(C.msgenc_progress(ptr(b), C.uint32_t(len(b)), C.uint64_t(done), C.uint64_t(total)))
}

// EncodeError encodes an error message.
func EncodeError(b []byte, code uint32, text string) int {
	return cstring(text, func(t *C.char) C.uint32_t {
		return C.msgenc_error(ptr(b), C.uint32_t(len(b)), C.uint32_t(code), t)
	})
}

// EncodeLog encodes a log message.
func EncodeLog(b []byte, text string) int {
	return cstring(text, func(t *C.char) C.uint32_t { return C.msgenc_log(ptr(b), C.uint32_t(len(b)), t) })
}

// EncodeComplete encodes a completion message.
func EncodeComplete(b []byte, op string, bytes uint64, success bool) int {
	s := C.int(0)
	if success {
		s = 1
	}
	return cstring(op, func(t *C.char) C.uint32_t {
		return C.msgenc_complete(ptr(b), C.uint32_t(len(b)), t, C.uint64_t(bytes), s)
	})
}

// EncodeCompleteCreate encodes a completion message carrying a create
// result.
func EncodeCompleteCreate(b []byte, op string, bytes uint64, success bool, r shared.CreateResult) int {
	s := C.int(0)
	if success {
		s = 1
	}
	cr := cCreateResult(r)
	return cstring(op, func(t *C.char) C.uint32_t {
		return C.msgenc_complete_create(ptr(b), C.uint32_t(len(b)), t, C.uint64_t(bytes), s, &cr)
	})
}

func cCreateResult(r shared.CreateResult) C.struct_create_result {
	return C.struct_create_result{
		magic: C.uint32_t(r.Magic), target_format: C.uint32_t(r.TargetFormat),
		resolved_virtual_size: C.uint64_t(r.ResolvedVirtualSize), metadata_bytes_written: C.uint64_t(r.MetadataBytesWritten),
		file_size_after: C.uint64_t(r.FileSizeAfter), resolved_unit_size: C.uint32_t(r.ResolvedUnitSize),
		error: C.uint32_t(r.Error), backing_format: C.uint32_t(r.BackingFormat),
		prealloc_start: C.uint64_t(r.PreallocStart), prealloc_end: C.uint64_t(r.PreallocEnd),
	}
}

// EncodeOutputSize encodes an output size message.
func EncodeOutputSize(b []byte, output uint32, size uint64) int {
	return int(C.msgenc_output_size(ptr(b), C.uint32_t(len(b)), C.uint32_t(output), C.uint64_t(size)))
}
