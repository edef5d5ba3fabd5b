#include "msgenc.h"
#include "instar/shared.h"
#include "pb.h"

/* GuestMessage oneof field numbers, as in shared/guest.proto. */
enum {
	GM_PROGRESS = 1,
	GM_ERROR = 2,
	GM_LOG = 3,
	GM_COMPLETE = 4,
	GM_OUTPUT_SIZE = 12,
};

/* The payload is built first, then wrapped; PB_MAX_STRING bounds it. */
#define PAYLOAD_MAX (PB_MAX_STRING * 2 + 128)
/* PAYLOAD(p) declares p, an empty payload in a buffer on the stack. */
#define PAYLOAD(p)                     \
	uint8_t p##_buf[PAYLOAD_MAX];  \
	struct pb_buf p;               \
	pb_init(&p, p##_buf, sizeof p##_buf)

static uint32_t wrap(uint8_t *out, uint32_t cap, uint32_t field, const struct pb_buf *payload)
{
	struct pb_buf env;
	pb_init(&env, out, cap);
	pb_message_field(&env, field, payload);
	return env.overflow ? 0 : env.len;
}

uint32_t msgenc_progress(uint8_t *out, uint32_t cap, uint64_t done, uint64_t total)
{
	PAYLOAD(p);
	pb_uint_field(&p, 1, done);
	pb_uint_field(&p, 2, total);
	return wrap(out, cap, GM_PROGRESS, &p);
}

uint32_t msgenc_error(uint8_t *out, uint32_t cap, uint32_t code, const char *text)
{
	PAYLOAD(p);
	pb_uint_field(&p, 1, code);
	pb_string_field(&p, 2, text);
	return wrap(out, cap, GM_ERROR, &p);
}

uint32_t msgenc_log(uint8_t *out, uint32_t cap, const char *text)
{
	PAYLOAD(p);
	pb_string_field(&p, 1, text);
	return wrap(out, cap, GM_LOG, &p);
}

/* create_result_payload encodes a CreateResultMessage's fields into p. */
static void create_result_payload(struct pb_buf *p, const struct create_result *r)
{
	pb_string_field(p, 1, format_name(r->target_format));
	pb_uint_field(p, 2, r->resolved_virtual_size);
	pb_uint_field(p, 3, r->metadata_bytes_written);
	pb_uint_field(p, 4, r->file_size_after);
	pb_uint_field(p, 5, r->resolved_unit_size);
	pb_uint_field(p, 6, r->error);
	pb_string_field(p, 7, format_name(r->backing_format));
	pb_uint_field(p, 8, r->prealloc_start);
	pb_uint_field(p, 9, r->prealloc_end);
}

/* complete encodes a CompleteMessage, with a create result as its result
 * when r is set (an embedded message and bytes share their encoding). */
static uint32_t complete(uint8_t *out, uint32_t cap, const char *op, uint64_t bytes_written, int success,
			 const struct create_result *r)
{
	PAYLOAD(result);
	PAYLOAD(p);
	pb_string_field(&p, 1, op);
	pb_uint_field(&p, 2, bytes_written);
	pb_bool_field(&p, 3, success);
	if (r) {
		create_result_payload(&result, r);
		pb_message_field(&p, 4, &result);
	}
	return wrap(out, cap, GM_COMPLETE, &p);
}

uint32_t msgenc_complete(uint8_t *out, uint32_t cap, const char *op, uint64_t bytes_written, int success)
{
	return complete(out, cap, op, bytes_written, success, 0);
}

uint32_t msgenc_complete_create(uint8_t *out, uint32_t cap, const char *op, uint64_t bytes_written, int success,
				const struct create_result *r)
{
	return complete(out, cap, op, bytes_written, success, r);
}

uint32_t msgenc_output_size(uint8_t *out, uint32_t cap, uint32_t output, uint64_t size)
{
	PAYLOAD(p);
	pb_uint_field(&p, 1, output);
	pb_uint_field(&p, 2, size);
	return wrap(out, cap, GM_OUTPUT_SIZE, &p);
}
