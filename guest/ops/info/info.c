/*
 * The info operation: over input device 0 (the image, read-only), probe
 * the format when the config names none (qemu's order and scores), run
 * the driver's info entry point, and report what qemu-img info reports:
 * one SnapshotMessage, BitmapMessage or ExtentMessage per table entry as
 * it is read, then the completion with an InfoResultMessage. It names no
 * format: everything about one is in its driver.
 */
#include "instar/opinput.h"
#include "info.h"
#include "enc/infoenc.h"

/* One message at a time is encoded here. */
static uint8_t msg[MAX_MESSAGE_SIZE];

/* send sends n encoded bytes; an entry that does not fit in a message
 * (0) stops the driver. */
static int send(const struct call_table *ct, uint32_t n)
{
	if (n == 0)
		return -1;
	ct->send_message(msg, n);
	return 0;
}

static int on_snapshot(void *ctx, const struct info_snapshot *s)
{
	return send(ctx, infoenc_snapshot(msg, sizeof msg, s));
}

static int on_bitmap(void *ctx, const struct info_bitmap *b)
{
	return send(ctx, infoenc_bitmap(msg, sizeof msg, b));
}

static int on_extent(void *ctx, const struct info_extent *e)
{
	return send(ctx, infoenc_extent(msg, sizeof msg, e));
}

static void finish(const struct call_table *ct, uint32_t err, const struct fmt_info *info)
{
	/* The code's wording is the host's; only a driver's own reason
	 * travels as text. */
	if (err != INFO_ERR_OK && info->reason)
		ct->send_error(err, info->reason);
	if (send(ct, infoenc_complete(msg, sizeof msg, err, info)) != 0)
		ct->send_complete("info", 0, 0); /* the host reports the missing result */
}

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	static struct fmt_info info;
	const struct info_config *cfg = (const struct info_config *)(uintptr_t)OPERATION_CONFIG_ADDR;
	if (cfg->magic != INFO_CONFIG_MAGIC || ct->get_input_device_count() < 1) {
		finish(ct, INFO_ERR_BAD_CONFIG, &info);
		return;
	}
	struct fmt_source src = op_input_source(ct);
	struct fmt_scratch scratch = {.buf = OP_SCRATCH_BASE, .size = OP_SCRATCH_SIZE};
	struct info_sink sink = {.snapshot = on_snapshot, .bitmap = on_bitmap, .extent = on_extent,
				 .ctx = (void *)ct};
	finish(ct, fmt_info_image(cfg->format, &src, &scratch, &sink, &info), &info);
}
