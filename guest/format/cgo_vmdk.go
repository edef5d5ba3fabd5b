//go:build cgo

package format

/*
#cgo CFLAGS: -I${SRCDIR}/../include -std=c11 -Wall -Wextra -Werror
#include <stdlib.h>
#include "cgo_vio.h"
#include "vmdk.h"

static uint32_t call_vmdk_plan(const struct create_config *cfg, uint64_t vsize,
			       const uint8_t *name, uint32_t name_len, uint32_t parent_cid,
			       void *scr, size_t scr_size, uintptr_t h, struct plan_result *res)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_sink k = vio_sink(h);
	return vmdk_plan(cfg, vsize, name, name_len, parent_cid, &s, &k, res);
}

static uint32_t call_vmdk_parse(void *scr, size_t scr_size, uintptr_t h, uint64_t size,
				struct backing_info *out)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(h, size);
	return vmdk_parse(&src, &s, out);
}

static uint32_t call_vmdk_parent_cid(void *scr, size_t scr_size, uintptr_t h, uint64_t size,
				     struct backing_info *out)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(h, size);
	uint32_t cid = 0;
	uint32_t err = vmdk_parent_cid(&src, &s, &cid);
	out->format = FORMAT_VMDK;
	out->virtual_size = cid;
	return err;
}
*/
import "C"

import (
	"io"
	"unsafe"

	"instar/shared"
)

// VmdkMinScratch is VMDK_MIN_SCRATCH.
const VmdkMinScratch = C.VMDK_MIN_SCRATCH

// VmdkPlan runs vmdk_plan for an image whose base name is imageName, with
// the backing file's CID parentCID.
func VmdkPlan(cfg *shared.CreateConfig, virtualSize uint64, imageName string, parentCID uint32, scratchSize int, sink OutputSink) (PlanInfo, uint32, error) {
	name := C.CBytes([]byte(imageName + "\x00"))
	defer C.free(name)
	return planCall(cfg, scratchSize, sink, func(c *C.struct_create_config, scr unsafe.Pointer, n C.size_t, h C.uintptr_t, res *C.struct_plan_result) C.uint32_t {
		return C.call_vmdk_plan(c, C.uint64_t(virtualSize), (*C.uint8_t)(name), C.uint32_t(len(imageName)), C.uint32_t(parentCID), scr, n, h, res)
	})
}

// VmdkParse runs vmdk_parse over the size bytes of r.
func VmdkParse(r io.ReaderAt, size int64, scratchSize int) (ParsedBacking, uint32) {
	return parseCall(r, size, scratchSize, func(scr unsafe.Pointer, n C.size_t, h C.uintptr_t, sz C.uint64_t, out *C.struct_backing_info) C.uint32_t {
		return C.call_vmdk_parse(scr, n, h, sz, out)
	})
}

// VmdkParentCID runs vmdk_parent_cid over the size bytes of r.
func VmdkParentCID(r io.ReaderAt, size int64, scratchSize int) (uint32, uint32) {
	b, code := parseCall(r, size, scratchSize, func(scr unsafe.Pointer, n C.size_t, h C.uintptr_t, sz C.uint64_t, out *C.struct_backing_info) C.uint32_t {
		return C.call_vmdk_parent_cid(scr, n, h, sz, out)
	})
	return uint32(b.VirtualSize), code
}
