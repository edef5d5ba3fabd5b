/* What every operation that reads an image shares: input device 0 as the
 * format library's source, and scratch memory, the RAM between
 * SCRATCH_MEM_BASE and the allocator heap. */
#ifndef INSTAR_OPINPUT_H
#define INSTAR_OPINPUT_H

#include "instar/op.h"
#include "format.h"

#define OP_SCRATCH_BASE ((uint8_t *)(uintptr_t)SCRATCH_MEM_BASE)
#define OP_SCRATCH_SIZE ((size_t)(ALLOC_HEAP_BASE - SCRATCH_MEM_BASE))

static inline int op_input_read(void *ctx, uint64_t offset, void *buf, uint32_t len)
{
	const struct call_table *ct = ctx;
	return ct->read_input(0, offset, buf, len);
}

/* op_input_source reads input device 0 through the call table. */
static inline struct fmt_source op_input_source(const struct call_table *ct)
{
	return (struct fmt_source){.read = op_input_read, .ctx = (void *)ct, .size = ct->get_input_size(0)};
}

#endif
