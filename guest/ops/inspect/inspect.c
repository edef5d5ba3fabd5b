/*
 * The inspect operation: over input device 0 (the file, read-only), a
 * safety verdict (fmt_inspect_image): one InspectFailureMessage per
 * failed check as it fails (at most INSPECT_MAX_FAILURES), then the
 * completion with an InspectResultMessage. It names no format.
 */
#include "instar/opinput.h"
#include "inspect.h"
#include "enc/inspectenc.h"

/* One message at a time is encoded here. */
static uint8_t msg[MAX_MESSAGE_SIZE];

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
	struct fmt_source src = op_input_source(ct);
	struct fmt_scratch scratch = {.buf = OP_SCRATCH_BASE, .size = OP_SCRATCH_SIZE};
	struct inspect_sink sink = {.failure = on_failure, .ctx = (void *)ct};
	uint32_t err = fmt_inspect_image(&src, &scratch, &sink, &report);
	if (err != INSPECT_ERR_OK)
		report.failures = 0;
	finish(ct, err, &report);
}
