//go:build cgo

package format

// The drivers' info entry points through cgo, for tests (and fuzz
// targets): fmt_info_image over a reader, with its table entries sent
// back to Go as they are read.

/*
#cgo CFLAGS: -I${SRCDIR}/../include -std=c11 -Wall -Wextra -Werror
#include <stdint.h>
#include <stdlib.h>
#include "cgo_vio.h"
#include "info.h"

extern int instarInfoSnapshot(uintptr_t h, struct info_snapshot *s);
extern int instarInfoBitmap(uintptr_t h, struct info_bitmap *b);
extern int instarInfoExtent(uintptr_t h, struct info_extent *e);
extern int instarInfoExtentFile(uintptr_t h, uint32_t index, uintptr_t *src, uint64_t *size);

static int info_snapshot_cb(void *ctx, const struct info_snapshot *s)
{
	return instarInfoSnapshot((uintptr_t)ctx, (struct info_snapshot *)s);
}

static int info_bitmap_cb(void *ctx, const struct info_bitmap *b)
{
	return instarInfoBitmap((uintptr_t)ctx, (struct info_bitmap *)b);
}

static int info_extent_cb(void *ctx, const struct info_extent *e)
{
	return instarInfoExtent((uintptr_t)ctx, (struct info_extent *)e);
}

static int info_extent_file_cb(void *ctx, uint32_t index, struct fmt_source *out)
{
	uintptr_t h;
	uint64_t size;
	if (instarInfoExtentFile((uintptr_t)ctx, index, &h, &size) != 0)
		return INFO_EXTENT_ABSENT;
	*out = vio_source(h, size);
	return INFO_EXTENT_OK;
}

static inline uint32_t call_info(uint32_t format, void *scr, size_t scr_size, uintptr_t src_h, uint64_t size,
				 uintptr_t sink_h, struct fmt_info *out)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(src_h, size);
	struct info_sink sink = {.snapshot = info_snapshot_cb, .bitmap = info_bitmap_cb, .extent = info_extent_cb,
				 .extent_file = info_extent_file_cb, .ctx = (void *)sink_h};
	return fmt_info_image(format, &src, &s, &sink, out);
}

static inline const char *info_reason(const struct fmt_info *i) { return i->reason ? i->reason : ""; }
*/
import "C"

import (
	"io"
	"runtime/cgo"
	"unsafe"
)

// InfoResult is struct fmt_info in Go terms, with the table entries the
// driver sent.
type InfoResult struct {
	Format, Snapshots, Bitmaps, Extents uint32
	VirtualSize, ClusterSize            uint64
	HasClusterSize, Dirty, Encrypted    bool
	// NoDirtyFlag: qemu reports neither the dirty flag nor a cluster
	// size (its bdrv_get_info fails).
	NoDirtyFlag                      bool
	Backing, BackingFormat           *string
	Qcow2Version, Qcow2RefcountBits  uint32
	Qcow2CompressionType             uint32
	Qcow2LazyRefcounts, Qcow2Corrupt bool
	Qcow2ExtendedL2                  bool
	Qcow2DataFile                    *string
	VmdkCID, VmdkParentCID           uint32
	VmdkCreateType                   *string
	// Reason is the driver's words for a refusal ("" if none).
	Reason       string
	SnapshotList []InfoSnapshot
	BitmapList   []InfoBitmap
	ExtentList   []InfoExtent
	// extents are the extent files the driver may ask for; nil: none
	// was opened. Not part of the result.
	extents []*sourceState
	// ExtentStats are the reads of each extent file the driver asked for.
	ExtentStats []ReadStats
}

// InfoFile is an extent file given to InfoFiles.
type InfoFile struct {
	R    io.ReaderAt
	Size int64
}

// InfoSnapshot is struct info_snapshot in Go terms.
type InfoSnapshot struct {
	ID, Name          string
	VMStateSize       uint64
	DateSec, DateNsec uint32
	VMClockNsec       uint64
	HasICount         bool
	ICount            uint64
}

// InfoBitmap is struct info_bitmap in Go terms.
type InfoBitmap struct {
	Name            string
	GranularityBits uint32
	InUse, Auto     bool
}

// InfoExtent is struct info_extent in Go terms.
type InfoExtent struct {
	Index uint32
	Type  string
	// Name is an extent file's name as stored (index 1..).
	Name                       string
	VirtualSize, ClusterSize   uint64
	HasClusterSize, Compressed bool
}

func infoName(n *C.struct_info_name) *string {
	if n.present == 0 {
		return nil
	}
	s := C.GoStringN((*C.char)(unsafe.Pointer(&n.bytes[0])), C.int(n.len))
	return &s
}

//export instarInfoSnapshot
func instarInfoSnapshot(h C.uintptr_t, s *C.struct_info_snapshot) C.int {
	r := cgo.Handle(h).Value().(*InfoResult)
	r.SnapshotList = append(r.SnapshotList, InfoSnapshot{
		ID:          C.GoStringN((*C.char)(unsafe.Pointer(s.id)), C.int(s.id_len)),
		Name:        C.GoStringN((*C.char)(unsafe.Pointer(s.name)), C.int(s.name_len)),
		VMStateSize: uint64(s.vm_state_size), DateSec: uint32(s.date_sec), DateNsec: uint32(s.date_nsec),
		VMClockNsec: uint64(s.vm_clock_nsec), HasICount: s.has_icount != 0, ICount: uint64(s.icount),
	})
	return 0
}

//export instarInfoBitmap
func instarInfoBitmap(h C.uintptr_t, b *C.struct_info_bitmap) C.int {
	r := cgo.Handle(h).Value().(*InfoResult)
	r.BitmapList = append(r.BitmapList, InfoBitmap{
		Name:            C.GoStringN((*C.char)(unsafe.Pointer(b.name)), C.int(b.name_len)),
		GranularityBits: uint32(b.granularity_bits), InUse: b.in_use != 0, Auto: b.autoflag != 0,
	})
	return 0
}

//export instarInfoExtent
func instarInfoExtent(h C.uintptr_t, e *C.struct_info_extent) C.int {
	r := cgo.Handle(h).Value().(*InfoResult)
	r.ExtentList = append(r.ExtentList, InfoExtent{
		Index: uint32(e.index), Type: C.GoString(e._type), VirtualSize: uint64(e.virtual_size),
		Name:        C.GoStringN((*C.char)(unsafe.Pointer(e.name)), C.int(e.name_len)),
		ClusterSize: uint64(e.cluster_size), HasClusterSize: e.has_cluster_size != 0, Compressed: e.compressed != 0,
	})
	return 0
}

//export instarInfoExtentFile
func instarInfoExtentFile(h C.uintptr_t, index C.uint32_t, src *C.uintptr_t, size *C.uint64_t) C.int {
	r := cgo.Handle(h).Value().(*InfoResult)
	if index == 0 || int(index) > len(r.extents) {
		return 1
	}
	st := r.extents[index-1]
	// The handle lives as long as the result's call (InfoFiles deletes it).
	*src, *size = C.uintptr_t(st.handle), C.uint64_t(st.size)
	return 0
}

// Info runs fmt_info_image over r (size bytes) with scratchSize bytes of
// scratch: format (a shared.Format*) or, with 0, the probed one. It
// returns what the driver reported and the INFO_ERR_* code.
func Info(format uint32, r io.ReaderAt, size int64, scratchSize int) (InfoResult, uint32) {
	res, code, _ := InfoCounted(format, r, size, scratchSize)
	return res, code
}

// InfoCounted is Info that also counts the driver's reads.
func InfoCounted(format uint32, r io.ReaderAt, size int64, scratchSize int) (InfoResult, uint32, ReadStats) {
	return InfoFiles(format, r, size, scratchSize, nil)
}

// InfoFiles is InfoCounted with the image's extent files opened (in the
// image's order; nil: none opened, as the host's first run).
func InfoFiles(format uint32, r io.ReaderAt, size int64, scratchSize int, files []InfoFile) (InfoResult, uint32, ReadStats) {
	st := &sourceState{r: r, size: size}
	src := cgo.NewHandle(st)
	defer src.Delete()
	res := &InfoResult{}
	for _, f := range files {
		x := &sourceState{r: f.R, size: f.Size}
		x.handle = cgo.NewHandle(x)
		defer x.handle.Delete()
		res.extents = append(res.extents, x)
	}
	sink := cgo.NewHandle(res)
	defer sink.Delete()
	scr := newScratch(scratchSize)
	defer scr.free()
	// In C memory: the driver may point out.reason into out itself.
	outp := (*C.struct_fmt_info)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_fmt_info{}))))
	defer C.free(unsafe.Pointer(outp))
	out := outp
	code := uint32(C.call_info(C.uint32_t(format), scr.p, C.size_t(scr.size), C.uintptr_t(src), C.uint64_t(size),
		C.uintptr_t(sink), out))
	coverFeed()
	res.Format, res.VirtualSize = uint32(out.format), uint64(out.virtual_size)
	res.HasClusterSize, res.ClusterSize = out.has_cluster_size != 0, uint64(out.cluster_size)
	res.NoDirtyFlag = out.no_dirty_flag != 0
	res.Dirty, res.Encrypted = out.dirty != 0, out.encrypted != 0
	res.Backing, res.BackingFormat = infoName(&out.backing), infoName(&out.backing_format)
	res.Snapshots, res.Bitmaps, res.Extents = uint32(out.snapshots), uint32(out.bitmaps), uint32(out.extents)
	res.Qcow2Version, res.Qcow2RefcountBits = uint32(out.qcow2_version), uint32(out.qcow2_refcount_bits)
	res.Qcow2CompressionType = uint32(out.qcow2_compression_type)
	res.Qcow2LazyRefcounts, res.Qcow2Corrupt = out.qcow2_lazy_refcounts != 0, out.qcow2_corrupt != 0
	res.Qcow2ExtendedL2 = out.qcow2_extended_l2 != 0
	res.Qcow2DataFile = infoName(&out.qcow2_data_file)
	res.VmdkCID, res.VmdkParentCID = uint32(out.vmdk_cid), uint32(out.vmdk_parent_cid)
	res.VmdkCreateType = infoName(&out.vmdk_create_type)
	res.Reason = C.GoString(C.info_reason(out))
	for _, x := range res.extents {
		res.ExtentStats = append(res.ExtentStats, x.stats)
	}
	res.extents = nil
	return *res, code, st.stats
}

// InfoMaxName is INFO_MAX_NAME, the longest name a driver reports but
// for a backing file, which is at most InfoMaxBacking.
const (
	InfoMaxName    = C.INFO_MAX_NAME
	InfoMaxBacking = C.INFO_MAX_BACKING
)
