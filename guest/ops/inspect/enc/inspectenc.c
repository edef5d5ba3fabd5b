#include "inspectenc.h"

#include "pb.h"

/* GuestMessage field numbers, as in shared/guest.proto. */
enum { GM_COMPLETE = 4, GM_INSPECT_FAILURE = 16 };

static uint32_t wrap(uint8_t *out, uint32_t cap, uint32_t field, const struct pb_buf *payload)
{
	struct pb_buf env;
	pb_init(&env, out, cap);
	pb_message_field(&env, field, payload);
	return env.overflow ? 0 : env.len;
}

uint32_t inspectenc_failure(uint8_t *out, uint32_t cap, uint32_t check, const char *reason)
{
	uint8_t buf[INSPECT_MAX_REASON + 32];
	struct pb_buf p;
	pb_init(&p, buf, sizeof buf);
	uint32_t n = 0;
	while (reason && reason[n] != 0 && n < INSPECT_MAX_REASON - 1)
		n++;
	pb_uint_field(&p, 1, check);
	pb_bytes_field(&p, 2, (const uint8_t *)reason, n);
	return wrap(out, cap, GM_INSPECT_FAILURE, &p);
}

uint32_t inspectenc_complete(uint8_t *out, uint32_t cap, uint32_t err, const struct inspect_report *r)
{
	uint8_t rbuf[96], cbuf[160];
	struct pb_buf res, c;
	pb_init(&res, rbuf, sizeof rbuf);
	pb_uint_field(&res, 1, err);
	pb_uint_field(&res, 2, r->formats);
	pb_uint_field(&res, 3, r->format);
	pb_bool_field(&res, 4, r->has_virtual_size);
	pb_uint_field(&res, 5, r->virtual_size);
	pb_uint_field(&res, 6, r->failures);

	pb_init(&c, cbuf, sizeof cbuf);
	pb_string_field(&c, 1, "inspect");
	pb_uint_field(&c, 2, 0);
	pb_bool_field(&c, 3, err == INSPECT_ERR_OK);
	pb_message_field(&c, 4, &res);
	return wrap(out, cap, GM_COMPLETE, &c);
}
