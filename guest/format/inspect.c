/*
 * The way to a verdict: which formats claim a file, which one it is
 * taken to be, and that format's checks, with what every format shares
 * (a backing file, names with protocol prefixes, qemu's open-time
 * refusals).
 */
#include "inspect.h"

#include "detect.h"
#include "instar/mem.h"

void inspect_fail(struct inspect_report *r, uint32_t check, const char *reason)
{
	if (r->stopped)
		return;
	char buf[INSPECT_MAX_REASON];
	uint32_t n = 0;
	while (reason && reason[n] != 0 && n < sizeof buf - 1) {
		buf[n] = reason[n];
		n++;
	}
	buf[n] = 0;
	r->failures++;
	if (r->sink->failure(r->sink->ctx, check, buf) != 0)
		r->stopped = 1;
}

void inspect_failf(struct inspect_report *r, uint32_t check, const char *prefix, uint64_t v)
{
	char buf[INSPECT_MAX_REASON];
	uint32_t n = 0;
	while (prefix[n] != 0 && n < sizeof buf - 21) {
		buf[n] = prefix[n];
		n++;
	}
	char digits[20];
	uint32_t k = 0;
	do {
		digits[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (k > 0)
		buf[n++] = digits[--k];
	buf[n] = 0;
	inspect_fail(r, check, buf);
}

int inspect_has_protocol(const uint8_t *name, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		if (name[i] == '/')
			return 0;
		if (name[i] == ':')
			return 1;
	}
	return 0;
}

/* The inspect format of a driver's FORMAT_*; INSPECT_FMT_COUNT for none. */
static uint32_t inspect_format_of(uint32_t format)
{
	switch (format) {
	case FORMAT_RAW:
		return INSPECT_FMT_RAW;
	case FORMAT_QCOW2:
		return INSPECT_FMT_QCOW2;
	case FORMAT_VMDK:
		return INSPECT_FMT_VMDK;
	case FORMAT_VPC:
		return INSPECT_FMT_VPC;
	case FORMAT_VHDX:
		return INSPECT_FMT_VHDX;
	default:
		return INSPECT_FMT_COUNT;
	}
}

/* The driver whose format is fmt (INSPECT_FMT_*), or NULL. */
static const struct fmt_driver *driver_of(uint32_t fmt)
{
	for (uint32_t i = 0; i < fmt_driver_count(); i++) {
		const struct fmt_driver *d = fmt_driver_at(i);
		if (inspect_format_of(d->format) == fmt)
			return d;
	}
	return NULL;
}

static const struct fmt_recogniser *recogniser_of(uint32_t fmt)
{
	for (uint32_t i = 0; i < fmt_recogniser_count(); i++)
		if (fmt_recogniser_at(i)->format == fmt)
			return fmt_recogniser_at(i);
	return NULL;
}

static uint32_t count_bits(uint64_t v)
{
	uint32_t n = 0;
	for (; v != 0; v &= v - 1)
		n++;
	return n;
}

static uint32_t lowest_bit(uint64_t v)
{
	uint32_t n = 0;
	while (n < 64 && !(v & ((uint64_t)1 << n)))
		n++;
	return n;
}

/* The polyglot failure: "claimed by qcow2, iso". */
static void fail_polyglot(struct inspect_report *r, uint64_t formats)
{
	char buf[INSPECT_MAX_REASON];
	static const char prefix[] = "claimed by several formats:";
	uint32_t n = 0;
	for (; prefix[n] != 0; n++)
		buf[n] = prefix[n];
	for (uint32_t f = 0; f < INSPECT_FMT_COUNT; f++) {
		if (!(formats & ((uint64_t)1 << f)))
			continue;
		const char *name = inspect_format_name(f);
		uint32_t len = 0;
		while (name[len] != 0)
			len++;
		if (n + 2 + len >= sizeof buf)
			break;
		buf[n++] = ' ';
		for (uint32_t k = 0; k < len; k++)
			buf[n++] = name[k];
		buf[n++] = ',';
	}
	buf[n - 1] = 0; /* the last comma (or the colon, when none fit) */
	inspect_fail(r, INSPECT_CHECK_POLYGLOT, buf);
}

/* Table entries are not part of a verdict. */
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

/* Why info refused, when the driver gave no words of its own. */
static const char *info_error_text(uint32_t err)
{
	switch (err) {
	case INFO_ERR_READ_FAILED:
		return "the image could not be read";
	case INFO_ERR_UNSUPPORTED:
		return "a format variant qemu-img cannot open";
	case INFO_ERR_TOO_BIG:
		return "image tables too large";
	default:
		return "the image is invalid";
	}
}

/* A driver format: qemu's open-time checks (its info entry point), then
 * the checks every format shares, then the driver's own. */
static void inspect_driver(const struct fmt_driver *d, const struct fmt_source *src, struct fmt_scratch scratch,
			   struct inspect_report *r)
{
	/* fmt_info is large: it lives at the start of scratch. */
	uint32_t info_size = (uint32_t)((sizeof(struct fmt_info) + 63u) & ~63u);
	if (scratch.size < info_size + d->min_scratch) {
		inspect_fail(r, INSPECT_CHECK_OPEN, "not enough working memory to open the image");
		return;
	}
	struct fmt_info *info = (struct fmt_info *)(void *)scratch.buf;
	memset(info, 0, sizeof *info);
	struct fmt_scratch rest = {scratch.buf + info_size, scratch.size - info_size};
	struct info_sink sink = {discard_snapshot, discard_bitmap, discard_extent, NULL};
	uint32_t err = fmt_info_image(d->format, src, &rest, &sink, info);
	if (err != INFO_ERR_OK) {
		inspect_fail(r, INSPECT_CHECK_OPEN, info->reason ? info->reason : info_error_text(err));
	} else {
		r->has_virtual_size = 1;
		r->virtual_size = info->virtual_size;
		if (info->backing.present) {
			inspect_fail(r, INSPECT_CHECK_BACKING_FILE, "image has a backing file");
			if (inspect_has_protocol(info->backing.bytes, info->backing.len))
				inspect_fail(r, INSPECT_CHECK_PROTOCOL, "backing file name has a protocol prefix");
		}
	}
	if (d->inspect)
		d->inspect(src, &rest, info, err, r);
}

uint32_t fmt_inspect_image(const struct fmt_source *src, const struct fmt_scratch *scratch,
			   const struct inspect_sink *sink, struct inspect_report *r)
{
	if (!src || !src->read || !scratch || !scratch->buf || !sink || !sink->failure || !r)
		return INSPECT_ERR_BAD_CONFIG;
	if (scratch->size < INSPECT_HEAD_SIZE)
		return INSPECT_ERR_BAD_CONFIG;
	memset(r, 0, sizeof *r);
	r->sink = sink;
	uint8_t *head = scratch->buf;
	uint32_t head_len = src->size < INSPECT_HEAD_SIZE ? (uint32_t)src->size : INSPECT_HEAD_SIZE;
	if (head_len > 0 && src->read(src->ctx, 0, head, head_len) != 0)
		return INSPECT_ERR_READ_FAILED;
	struct inspect_input in = {src, head, head_len};
	struct fmt_scratch rest = {scratch->buf + INSPECT_HEAD_SIZE, scratch->size - INSPECT_HEAD_SIZE};

	uint32_t probe_len = head_len < DETECT_PROBE_SIZE ? head_len : DETECT_PROBE_SIZE;
	for (uint32_t i = 0; i < fmt_driver_count(); i++) {
		const struct fmt_driver *d = fmt_driver_at(i);
		uint32_t f = inspect_format_of(d->format);
		if (f != INSPECT_FMT_RAW && f < INSPECT_FMT_COUNT && d->probe && d->probe(head, probe_len) > PROBE_FALLBACK)
			r->formats |= (uint64_t)1 << f;
	}
	for (uint32_t i = 0; i < fmt_recogniser_count(); i++) {
		const struct fmt_recogniser *g = fmt_recogniser_at(i);
		if (g->format < INSPECT_FMT_COUNT && g->match(&in))
			r->formats |= (uint64_t)1 << g->format;
	}

	const uint64_t hybrid_iso = ((uint64_t)1 << INSPECT_FMT_ISO) | ((uint64_t)1 << INSPECT_FMT_GPT);
	uint32_t claimants = count_bits(r->formats);
	if (claimants == 0)
		r->format = INSPECT_FMT_RAW;
	else if (claimants == 1 || r->formats == hybrid_iso)
		r->format = r->formats == hybrid_iso ? INSPECT_FMT_ISO : lowest_bit(r->formats);
	else {
		fail_polyglot(r, r->formats);
		r->format = lowest_bit(r->formats);
	}

	const struct fmt_driver *d = driver_of(r->format);
	const struct fmt_recogniser *g = recogniser_of(r->format);
	if (d)
		inspect_driver(d, src, rest, r);
	else if (g && g->check)
		g->check(&in, &rest, r);
	return INSPECT_ERR_OK;
}
