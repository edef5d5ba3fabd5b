/*
 * The inspect operation: over input device 0 (the file, read-only), a
 * safety verdict (fmt_inspect_image): one InspectFailureMessage per
 * failed check as it fails (at most INSPECT_MAX_FAILURES), then the
 * completion with an InspectResultMessage. It names no format.
 */
#include "instar/op.h"
#include "format.h"
#include "inspect.h"
#include "enc/inspectenc.h"

#define SCRATCH_BASE ((uint8_t *)(uintptr_t)SCRATCH_MEM_BASE)
#define SCRATCH_SIZE ((size_t)(ALLOC_HEAP_BASE - SCRATCH_MEM_BASE))

/* One message at a time is encoded here. */
static uint8_t msg[MAX_MESSAGE_SIZE];

static int source_read(void *ctx, uint64_t offset, void *buf, uint32_t len)
{
	const struct call_table *ct = ctx;
	return ct->read_input(0, offset, buf, len);
}

static int on_failure(void *ctx, uint32_t check, const char *reason)
{
	const struct call_table *ct = ctx;
	uint32_t n = inspectenc_failure(msg, sizeof msg, check, reason);
	if (n == 0)
		return -1;
	ct->send_message(msg, n);
	return 0;
}

static void finish(const struct call_table *ct, uint32_t err, const struct inspect_report *r)
{
	uint32_t n = inspectenc_complete(msg, sizeof msg, err, r);
	if (n == 0) {
		ct->send_complete("inspect", 0, 0); /* the host reports the missing result */
		return;
	}
	ct->send_message(msg, n);
}

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	static struct inspect_report report;
	const struct inspect_config *cfg = (const struct inspect_config *)(uintptr_t)OPERATION_CONFIG_ADDR;
	if (cfg->magic != INSPECT_CONFIG_MAGIC || ct->get_input_device_count() < 1) {
		finish(ct, INSPECT_ERR_BAD_CONFIG, &report);
		return;
	}
	struct fmt_source src = {.read = source_read, .ctx = (void *)ct, .size = ct->get_input_size(0)};
	struct fmt_scratch scratch = {.buf = SCRATCH_BASE, .size = SCRATCH_SIZE};
	struct inspect_sink sink = {.failure = on_failure, .ctx = (void *)ct};
	uint32_t err = fmt_inspect_image(&src, &scratch, &sink, &report);
	if (err != INSPECT_ERR_OK)
		report.failures = 0;
	finish(ct, err, &report);
}
