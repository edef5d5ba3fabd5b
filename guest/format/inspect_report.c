/*
 * inspect_fail and inspect_failf (inspect.h): a failed check to the
 * report's sink, counted; after the sink says stop, failures are dropped.
 */
#include "inspect.h"

void inspect_fail(struct inspect_report *r, uint32_t check, const char *reason)
{
	char buf[INSPECT_MAX_REASON];
	uint32_t n = 0;
	while (reason[n] && n < INSPECT_MAX_REASON - 1) {
		buf[n] = reason[n];
		n++;
	}
	buf[n] = 0;
	if (r->stopped)
		return;
	r->failures++;
	if (r->sink && r->sink->failure && r->sink->failure(r->sink->ctx, check, buf) != 0)
		r->stopped = 1;
}

void inspect_failf(struct inspect_report *r, uint32_t check, const char *prefix, uint64_t v)
{
	char buf[INSPECT_MAX_REASON];
	char digits[20];
	uint32_t n = 0, d = 0;
	while (prefix[n] && n < INSPECT_MAX_REASON - 1) {
		buf[n] = prefix[n];
		n++;
	}
	do {
		digits[d++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (d && n < INSPECT_MAX_REASON - 1)
		buf[n++] = digits[--d];
	buf[n] = 0;
	inspect_fail(r, check, buf);
}
