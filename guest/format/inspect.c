/*
 * The way to an inspect verdict: every format that claims the file, the
 * one it is taken to be, and that format's checks (inspect.h).
 */
#include "inspect.h"

#include "detect.h"

static const char *const inspect_names[INSPECT_FMT_COUNT] = {
	"raw", "qcow2", "vmdk", "vpc", "vhdx", "qcow", "qed", "vdi", "luks", "parallels", "bochs",
	"cloop", "dmg", "iso", "gpt", "gzip", "xz", "zstd", "bzip2", "tar", "ova",
};

/* Reasons travel as protobuf strings and are printed: anything but
 * printable ASCII becomes '?'. */
void inspect_reason_add(struct inspect_reason *w, const char *s)
{
	if (w->n >= INSPECT_MAX_REASON)
		w->n = INSPECT_MAX_REASON - 1;
	while (s && *s != 0 && w->n < INSPECT_MAX_REASON - 1) {
		uint8_t c = (uint8_t)*s++;
		w->b[w->n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	w->b[w->n] = 0;
}

static void reason_base(struct inspect_reason *w, uint64_t v, uint32_t base)
{
	char digits[21];
	uint32_t k = 0;
	if (w->n >= INSPECT_MAX_REASON)
		w->n = INSPECT_MAX_REASON - 1;
	do {
		digits[k++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);
	while (k > 0 && w->n < INSPECT_MAX_REASON - 1)
		w->b[w->n++] = digits[--k];
	w->b[w->n] = 0;
}

void inspect_reason_num(struct inspect_reason *w, uint64_t v)
{
	reason_base(w, v, 10);
}

void inspect_reason_hex(struct inspect_reason *w, uint64_t v)
{
	reason_base(w, v, 16);
}

void inspect_fail(struct inspect_report *r, uint32_t check, const char *reason)
{
	if (r->stopped)
		return;
	if (r->failures >= INSPECT_MAX_FAILURES) {
		r->stopped = 1;
		return;
	}
	struct inspect_reason w = {.n = 0};
	w.b[0] = 0;
	inspect_reason_add(&w, reason ? reason : "");
	r->failures++;
	if (r->sink && r->sink->failure && r->sink->failure(r->sink->ctx, check, w.b) != 0)
		r->stopped = 1;
}

void inspect_failf(struct inspect_report *r, uint32_t check, const char *prefix, uint64_t v)
{
	struct inspect_reason w = {.n = 0};
	w.b[0] = 0;
	inspect_reason_add(&w, prefix ? prefix : "");
	inspect_reason_num(&w, v);
	inspect_fail(r, check, w.b);
}

/* The INSPECT_FMT_* of a driver's FORMAT_*, or INSPECT_FMT_RAW. */
static uint32_t inspect_format_of(uint32_t format)
{
	switch (format) {
	case FORMAT_QCOW2:
		return INSPECT_FMT_QCOW2;
	case FORMAT_VMDK:
		return INSPECT_FMT_VMDK;
	case FORMAT_VPC:
		return INSPECT_FMT_VPC;
	case FORMAT_VHDX:
		return INSPECT_FMT_VHDX;
	default:
		return INSPECT_FMT_RAW;
	}
}

/* The FORMAT_* of a driver's INSPECT_FMT_*, or FORMAT_UNSET. */
static uint32_t driver_format_of(uint32_t f)
{
	for (uint32_t i = 0; i < fmt_driver_count(); i++) {
		const struct fmt_driver *d = fmt_driver_at(i);
		if (d->format != FORMAT_RAW && inspect_format_of(d->format) == f)
			return d->format;
	}
	return FORMAT_UNSET;
}

static int discard_snapshot(void *ctx, const struct info_snapshot *s)
{
	(void)ctx;
	(void)s;
	return 0;
}

static int discard_bitmap(void *ctx, const struct info_bitmap *b)
{
	(void)ctx;
	(void)b;
	return 0;
}

static int discard_extent(void *ctx, const struct info_extent *e)
{
	(void)ctx;
	(void)e;
	return 0;
}

/* Why info refused the image, when the driver has no words for it. */
static const char *info_error_reason(uint32_t e)
{
	switch (e) {
	case INFO_ERR_INVALID:
		return "image is not valid";
	case INFO_ERR_UNSUPPORTED:
		return "image uses a feature that is not supported";
	case INFO_ERR_TOO_BIG:
		return "image has too many table entries";
	default:
		return "image cannot be opened";
	}
}

/* Sends the polyglot failure naming every claimant. */
static void fail_polyglot(struct inspect_report *r, uint64_t formats)
{
	struct inspect_reason w = {.n = 0};
	w.b[0] = 0;
	inspect_reason_add(&w, "file is claimed by more than one format:");
	for (uint32_t f = 1; f < INSPECT_FMT_COUNT; f++) {
		if (formats & ((uint64_t)1 << f)) {
			inspect_reason_add(&w, " ");
			inspect_reason_add(&w, inspect_names[f]);
		}
	}
	inspect_fail(r, INSPECT_CHECK_POLYGLOT, w.b);
}

/* The failures a driver found while it read the image (fmt_info's
 * inspect_checks), with fixed reasons. */
static void driver_checks(const struct fmt_info *info, struct inspect_report *r)
{
	static const struct {
		uint32_t check;
		const char *reason;
	} found[] = {
		{INSPECT_CHECK_UNKNOWN_FEATURES, "image uses a version or feature qemu does not know"},
		{INSPECT_CHECK_BACKING_FILE, "image has a parent"},
		{INSPECT_CHECK_DIRTY_LOG, "image has a log to replay"},
		{INSPECT_CHECK_VIRTUAL_SIZE, "virtual size is beyond what the image's tables map"},
		{INSPECT_CHECK_DESCRIPTOR, "image is a descriptor file whose extents are other files"},
		{INSPECT_CHECK_FOOTER, "streamOptimized image with its grain directory at the end lacks a valid footer "
				       "marker, footer or end-of-stream marker"},
	};
	for (uint32_t i = 0; i < sizeof found / sizeof found[0]; i++)
		if (info->inspect_checks & (1u << found[i].check))
			inspect_fail(r, found[i].check, found[i].reason);
}

static uint32_t inspect_driver(uint32_t format, const struct fmt_source *src, const struct fmt_scratch *scratch,
			       struct inspect_report *r)
{
	/* info lives at the start of scratch (no hidden state); the driver
	 * gets the rest. */
	size_t info_room = (sizeof(struct fmt_info) + 63) & ~(size_t)63;
	if (scratch->size < info_room)
		return INSPECT_ERR_BAD_CONFIG;
	for (size_t i = 0; i < sizeof(struct fmt_info); i++)
		scratch->buf[i] = 0;
	struct fmt_info *info = (struct fmt_info *)(void *)scratch->buf;
	struct fmt_scratch drv = {scratch->buf + info_room, scratch->size - info_room};
	struct info_sink discard = {.snapshot = discard_snapshot, .bitmap = discard_bitmap, .extent = discard_extent};
	uint32_t e = fmt_info_image(format, src, &drv, &discard, info);
	if (e == INFO_ERR_READ_FAILED)
		return INSPECT_ERR_READ_FAILED;
	if (e == INFO_ERR_BAD_CONFIG)
		return INSPECT_ERR_BAD_CONFIG;
	if (e != INFO_ERR_OK) {
		inspect_fail(r, INSPECT_CHECK_OPEN, info->reason ? info->reason : info_error_reason(e));
		driver_checks(info, r);
		return INSPECT_ERR_OK;
	}
	r->has_virtual_size = 1;
	r->virtual_size = info->virtual_size;
	driver_checks(info, r);
	const struct fmt_driver *d = fmt_driver(format);
	if (d && d->inspect)
		d->inspect(src, &drv, info, r);
	return INSPECT_ERR_OK;
}

uint32_t fmt_inspect_image(const struct fmt_source *src, const struct fmt_scratch *scratch,
			   const struct inspect_sink *sink, struct inspect_report *r)
{
	if (!src || !src->read || !scratch || !scratch->buf || !r)
		return INSPECT_ERR_BAD_CONFIG;
	r->formats = 0;
	r->format = INSPECT_FMT_RAW;
	r->has_virtual_size = 0;
	r->virtual_size = 0;
	r->failures = 0;
	r->sink = sink;
	r->stopped = 0;
	/* The head, then room for a recogniser's own reads. */
	if (scratch->size < (size_t)INSPECT_HEAD_SIZE * 2)
		return INSPECT_ERR_BAD_CONFIG;
	uint32_t head_len = src->size < INSPECT_HEAD_SIZE ? (uint32_t)src->size : INSPECT_HEAD_SIZE;
	if (head_len > 0 && src->read(src->ctx, 0, scratch->buf, head_len) != 0)
		return INSPECT_ERR_READ_FAILED;
	struct inspect_input in = {src, scratch->buf, head_len};
	struct fmt_scratch rest = {scratch->buf + INSPECT_HEAD_SIZE, scratch->size - INSPECT_HEAD_SIZE};

	uint32_t probe_len = head_len < DETECT_PROBE_SIZE ? head_len : DETECT_PROBE_SIZE;
	for (uint32_t i = 0; i < fmt_driver_count(); i++) {
		const struct fmt_driver *d = fmt_driver_at(i);
		if (d->format == FORMAT_RAW || !d->probe)
			continue;
		if (d->probe(in.head, probe_len) > PROBE_FALLBACK)
			r->formats |= (uint64_t)1 << inspect_format_of(d->format);
	}
	/* Each match runs once (dmg's reads the file's last bytes); the
	 * first recogniser to claim a format runs its checks. */
	const struct fmt_recogniser *claimed[INSPECT_FMT_COUNT] = {0};
	for (uint32_t i = 0; i < fmt_recogniser_count(); i++) {
		const struct fmt_recogniser *c = fmt_recogniser_at(i);
		if (!c || c->format == INSPECT_FMT_RAW || c->format >= INSPECT_FMT_COUNT || !c->match)
			continue;
		if (c->match(&in)) {
			r->formats |= (uint64_t)1 << c->format;
			if (!claimed[c->format])
				claimed[c->format] = c;
		}
	}

	/* An ISO with a partition table in its system area is a hybrid ISO:
	 * one format, iso. */
	const uint64_t hybrid = ((uint64_t)1 << INSPECT_FMT_ISO) | ((uint64_t)1 << INSPECT_FMT_GPT);
	uint64_t claim = r->formats;
	if ((claim & hybrid) == hybrid)
		claim &= ~((uint64_t)1 << INSPECT_FMT_GPT);
	if (claim == 0)
		return INSPECT_ERR_OK;
	if ((claim & (claim - 1)) != 0) {
		fail_polyglot(r, r->formats);
		/* Taken as the lowest-numbered claimant so that its checks run
		 * too; the verdict is unsafe either way. */
	}
	uint32_t f = 0;
	while (!(claim & ((uint64_t)1 << f)))
		f++;
	r->format = f;
	uint32_t df = driver_format_of(f);
	if (df != FORMAT_UNSET)
		return inspect_driver(df, src, scratch, r);
	if (f < INSPECT_FMT_COUNT && claimed[f] && claimed[f]->check)
		claimed[f]->check(&in, &rest, r);
	return INSPECT_ERR_OK;
}
