//go:build cgo

// Package enc compiles the info operation's message encoder for the host,
// so that tests decode, with the protobuf library and the host's decoder,
// exactly what the guest sends.
package enc

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include -I${SRCDIR}/../../../format -I${SRCDIR}/../../../core -std=c11 -Wall -Wextra -Werror
#include <stdlib.h>
#include <string.h>
#include "infoenc.h"
#include "../../../core/pb.c"

static inline void set_name(struct info_name *n, const char *s, uint32_t len)
{
	if (len > INFO_MAX_BACKING)
		len = INFO_MAX_BACKING;
	memcpy(n->bytes, s, len);
	n->len = len;
	n->present = 1;
}
*/
import "C"

import (
	"unsafe"

	"instar/shared"
)

// Info is the part of struct fmt_info the tests set.
type Info struct {
	Format                  uint32
	VirtualSize, Cluster    uint64
	Backing, BackingFormat  *string
	DataFile, CreateType    *string
	Snapshots, Bitmaps      uint32
	Dirty, ExternalDataFile bool
}

func setName(n *C.struct_info_name, s *string) {
	if s == nil {
		return
	}
	p := C.CString(*s)
	defer C.free(unsafe.Pointer(p))
	C.set_name(n, p, C.uint32_t(len(*s)))
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Complete encodes the completion for err and i; 0 if it does not fit.
func Complete(b []byte, err uint32, i Info) int {
	var c C.struct_fmt_info
	c.format, c.virtual_size = C.uint32_t(i.Format), C.uint64_t(i.VirtualSize)
	c.has_cluster_size, c.cluster_size = 1, C.uint64_t(i.Cluster)
	c.dirty, c.qcow2_external_data = boolInt(i.Dirty), boolInt(i.ExternalDataFile)
	c.snapshots, c.bitmaps = C.uint32_t(i.Snapshots), C.uint32_t(i.Bitmaps)
	setName(&c.backing, i.Backing)
	setName(&c.backing_format, i.BackingFormat)
	setName(&c.qcow2_data_file, i.DataFile)
	setName(&c.vmdk_create_type, i.CreateType)
	return int(C.infoenc_complete((*C.uint8_t)(unsafe.Pointer(&b[0])), C.uint32_t(len(b)), C.uint32_t(err), &c))
}

// Snapshot encodes one snapshot with the given ID and name.
func Snapshot(b []byte, id, name string, vmState, clock uint64, icount *uint64) int {
	cid, cname := C.CString(id), C.CString(name)
	defer C.free(unsafe.Pointer(cid))
	defer C.free(unsafe.Pointer(cname))
	s := C.struct_info_snapshot{id: (*C.uint8_t)(unsafe.Pointer(cid)), id_len: C.uint32_t(len(id)),
		name: (*C.uint8_t)(unsafe.Pointer(cname)), name_len: C.uint32_t(len(name)),
		vm_state_size: C.uint64_t(vmState), vm_clock_nsec: C.uint64_t(clock)}
	if icount != nil {
		s.has_icount, s.icount = 1, C.uint64_t(*icount)
	}
	return int(C.infoenc_snapshot((*C.uint8_t)(unsafe.Pointer(&b[0])), C.uint32_t(len(b)), &s))
}

// Bitmap encodes one bitmap.
func Bitmap(b []byte, name string, gran uint32, inUse, auto bool) int {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	m := C.struct_info_bitmap{name: (*C.uint8_t)(unsafe.Pointer(cname)), name_len: C.uint32_t(len(name)),
		granularity_bits: C.uint32_t(gran), in_use: boolInt(inUse), autoflag: boolInt(auto)}
	return int(C.infoenc_bitmap((*C.uint8_t)(unsafe.Pointer(&b[0])), C.uint32_t(len(b)), &m))
}

// Extent encodes one extent.
func Extent(b []byte, index uint32, typ string, size, cluster uint64, compressed bool) int {
	ct := C.CString(typ)
	defer C.free(unsafe.Pointer(ct))
	e := C.struct_info_extent{index: C.uint32_t(index), _type: ct, virtual_size: C.uint64_t(size),
		has_cluster_size: 1, cluster_size: C.uint64_t(cluster), compressed: boolInt(compressed)}
	return int(C.infoenc_extent((*C.uint8_t)(unsafe.Pointer(&b[0])), C.uint32_t(len(b)), &e))
}

// Cap is the buffer the guest encodes a message into.
const Cap = shared.MaxMessageSize
