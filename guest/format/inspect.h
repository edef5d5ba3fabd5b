/*
 * The inspect entry points: a safety verdict on an untrusted file. Every
 * format that claims the file is found (drivers' probes and the
 * recognisers of formats instar does not read), the file is taken to be
 * the one that claims it (raw when none does), and that format's checks
 * run. A failed check goes to the caller's sink as it fails; checks and
 * formats are numbered in shared/inspect.go (INSPECT_CHECK_*,
 * INSPECT_FMT_*).
 */
#ifndef FORMAT_INSPECT_H
#define FORMAT_INSPECT_H

#include "format.h"
#include "info.h"

/* How much of the start of a file every recogniser is given: an ISO's
 * system area and first volume descriptors fit. */
#define INSPECT_HEAD_SIZE 65536u

/* The longest reason a check gives, with its NUL. */
#define INSPECT_MAX_REASON 160u

/* Where failed checks go; failure returns 0, or nonzero to stop. */
struct inspect_sink {
	int (*failure)(void *ctx, uint32_t check, const char *reason);
	void *ctx;
};

/* What inspect reports. */
struct inspect_report {
	uint64_t formats;      /* bit 1<<INSPECT_FMT_* for each claimant */
	uint32_t format;       /* INSPECT_FMT_* the file is taken to be */
	int has_virtual_size;
	uint64_t virtual_size; /* in bytes */
	uint32_t failures;     /* how many went to the sink */
	const struct inspect_sink *sink;
	int stopped;           /* the sink said stop */
};

/* inspect_fail sends check's failure with reason (at most
 * INSPECT_MAX_REASON-1 bytes are kept) and counts it. */
void inspect_fail(struct inspect_report *r, uint32_t check, const char *reason);

/* inspect_failf is inspect_fail with reason = prefix followed by v in
 * decimal: reasons that name a value. */
void inspect_failf(struct inspect_report *r, uint32_t check, const char *prefix, uint64_t v);

/* A reason being built, always NUL-terminated within INSPECT_MAX_REASON
 * (start it as {.n = 0}): for reasons that name several values. */
struct inspect_reason {
	char b[INSPECT_MAX_REASON];
	uint32_t n;
};

/* Append text, a number in decimal, a number in lower-case hex (no
 * prefix); what does not fit is dropped. */
void inspect_reason_add(struct inspect_reason *w, const char *s);
void inspect_reason_num(struct inspect_reason *w, uint64_t v);
void inspect_reason_hex(struct inspect_reason *w, uint64_t v);

/* What a recogniser sees: the file and its first bytes. */
struct inspect_input {
	const struct fmt_source *src;
	const uint8_t *head; /* the first head_len bytes of src */
	uint32_t head_len;   /* min(INSPECT_HEAD_SIZE, src->size) */
};

/*
 * A recogniser: a format instar does not read through a driver (no qemu
 * driver here, or not a disk image at all), recognised so that it is
 * named and checked rather than guessed as raw. match says whether the
 * file is this format; check runs its checks (reading more through
 * in->src if it must, within scratch) and may set the virtual size.
 */
struct fmt_recogniser {
	uint32_t format; /* INSPECT_FMT_* */
	int (*match)(const struct inspect_input *in);
	void (*check)(const struct inspect_input *in, const struct fmt_scratch *scratch, struct inspect_report *r);
};

/* The recognisers, numbered 0..fmt_recogniser_count()-1. */
uint32_t fmt_recogniser_count(void);
const struct fmt_recogniser *fmt_recogniser_at(uint32_t i);

/*
 * A driver's inspect entry point (struct fmt_driver's inspect): the
 * format's own checks, run after its info entry point filled info
 * without error (qemu would open it). It reads through src within
 * scratch as info does.
 */
typedef void (*fmt_inspect_fn)(const struct fmt_source *src, const struct fmt_scratch *scratch,
			       const struct fmt_info *info, struct inspect_report *r);

/* The drivers' inspect entry points. */
void qcow2_inspect(const struct fmt_source *, const struct fmt_scratch *, const struct fmt_info *, struct inspect_report *);
void vmdk_inspect(const struct fmt_source *, const struct fmt_scratch *, const struct fmt_info *, struct inspect_report *);
void vpc_inspect(const struct fmt_source *, const struct fmt_scratch *, const struct fmt_info *, struct inspect_report *);
void vhdx_inspect(const struct fmt_source *, const struct fmt_scratch *, const struct fmt_info *, struct inspect_report *);

/* Whether a file name has a protocol prefix, as qemu decides: a ':'
 * before any '/'. */
int inspect_has_protocol(const struct info_name *n);

/*
 * Inspects src: the one way to a verdict, for the inspect operation and
 * the tests alike. Returns INSPECT_ERR_OK when r holds a verdict (safe
 * when r->failures is 0), or why there is none.
 */
uint32_t fmt_inspect_image(const struct fmt_source *src, const struct fmt_scratch *scratch,
			   const struct inspect_sink *sink, struct inspect_report *r);

#endif
