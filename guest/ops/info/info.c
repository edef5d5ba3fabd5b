/*
 * The info operation: over input device 0 (the image, read-only), probe
 * the format when the config names none (qemu's order and scores), run
 * the driver's info entry point, and report what qemu-img info reports:
 * one SnapshotMessage, BitmapMessage or ExtentMessage per table entry as
 * it is read, then the completion with an InfoResultMessage. With
 * INFO_FLAG_EXTENTS, the extent files the host opened are devices 1 (their
 * table) and 2 (their bytes), each given to the driver as a source of its
 * own. It names no format: everything about one is in its driver.
 */
#include "instar/opinput.h"
#include "info.h"
#include "enc/infoenc.h"

/* One run's state, which the driver's callbacks get as their context. */
struct info_op {
	const struct call_table *ct;
	/* The attached extent files: how many, and the length of device 2. */
	uint64_t extent_count, extent_bytes;
	/* The extent file the driver has now. */
	struct extent_window {
		const struct call_table *ct;
		uint64_t base, size;
	} window;
	/* One message at a time is encoded here. */
	uint8_t msg[MAX_MESSAGE_SIZE];
};

/* send sends n encoded bytes of op->msg; an entry that does not fit in a
 * message (0) stops the driver. */
static int send(struct info_op *op, uint32_t n)
{
	if (n == 0)
		return -1;
	op->ct->send_message(op->msg, n);
	return 0;
}

static int on_snapshot(void *ctx, const struct info_snapshot *s)
{
	struct info_op *op = ctx;
	return send(op, infoenc_snapshot(op->msg, sizeof op->msg, s));
}

static int on_bitmap(void *ctx, const struct info_bitmap *b)
{
	struct info_op *op = ctx;
	return send(op, infoenc_bitmap(op->msg, sizeof op->msg, b));
}

static int on_extent(void *ctx, const struct info_extent *e)
{
	struct info_op *op = ctx;
	return send(op, infoenc_extent(op->msg, sizeof op->msg, e));
}

static int extent_read(void *ctx, uint64_t offset, void *buf, uint32_t len)
{
	const struct extent_window *w = ctx;
	if (offset > w->size || len > w->size - offset)
		return -1;
	return w->ct->read_input(2, w->base + offset, buf, len);
}

static int on_extent_file(void *ctx, uint32_t index, struct fmt_source *out)
{
	struct info_op *op = ctx;
	struct info_extent_entry e;
	if (index == 0 || index > op->extent_count ||
	    op->ct->read_input(1, (uint64_t)(index - 1) * sizeof e, &e, sizeof e) != 0)
		return INFO_EXTENT_ABSENT;
	/* The host's table, checked all the same. */
	if (e.offset > op->extent_bytes || e.size > op->extent_bytes - e.offset)
		return INFO_EXTENT_ABSENT;
	op->window = (struct extent_window){.ct = op->ct, .base = e.offset, .size = e.size};
	*out = (struct fmt_source){.read = extent_read, .ctx = &op->window, .size = e.size};
	return INFO_EXTENT_OK;
}

static void finish(struct info_op *op, uint32_t err, const struct fmt_info *info)
{
	/* The code's wording is the host's; only a driver's own reason
	 * travels as text. */
	if (err != INFO_ERR_OK && info->reason)
		op->ct->send_error(err, info->reason);
	if (send(op, infoenc_complete(op->msg, sizeof op->msg, err, info)) != 0)
		op->ct->send_complete("info", 0, 0); /* the host reports the missing result */
}

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	static struct fmt_info info;
	static struct info_op op;
	op.ct = ct;
	const struct info_config *cfg = (const struct info_config *)(uintptr_t)OPERATION_CONFIG_ADDR;
	uint32_t devices = ct->get_input_device_count();
	int attached = (cfg->flags & INFO_FLAG_EXTENTS) != 0;
	if (cfg->magic != INFO_CONFIG_MAGIC || (cfg->flags & ~(uint32_t)INFO_FLAG_EXTENTS) != 0 ||
	    devices < (attached ? 3u : 1u) ||
	    (attached && ct->get_input_size(1) % sizeof(struct info_extent_entry) != 0)) {
		finish(&op, INFO_ERR_BAD_CONFIG, &info);
		return;
	}
	if (attached) {
		op.extent_count = ct->get_input_size(1) / sizeof(struct info_extent_entry);
		op.extent_bytes = ct->get_input_size(2);
	}
	struct fmt_source src = op_input_source(ct);
	struct fmt_scratch scratch = {.buf = OP_SCRATCH_BASE, .size = OP_SCRATCH_SIZE};
	struct info_sink sink = {.snapshot = on_snapshot, .bitmap = on_bitmap, .extent = on_extent,
				 .extent_file = on_extent_file, .ctx = &op};
	finish(&op, fmt_info_image(cfg->format, &src, &scratch, &sink, &info), &info);
}
