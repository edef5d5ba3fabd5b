#include "msg.h"
#include "instar/pb.h"

/* GuestMessage oneof field numbers, as in shared/guest.proto. */
enum {
	GM_PROGRESS = 1,
	GM_ERROR = 2,
	GM_LOG = 3,
	GM_COMPLETE = 4,
	GM_CREATE_RESULT = 11,
};

/* Two buffers: the payload is built in one, then wrapped into the other.
 * Both live on the stack; MAX_MESSAGE_SIZE bounds them. */
struct msg_bufs {
	uint8_t payload[MAX_MESSAGE_SIZE];
	uint8_t envelope[MAX_MESSAGE_SIZE];
};

static void send(struct dev *d, uint32_t field, const struct pb_buf *payload, uint8_t *envelope)
{
	struct pb_buf env;
	pb_init(&env, envelope, MAX_MESSAGE_SIZE);
	pb_message_field(&env, field, payload);
	if (env.overflow)
		return; /* cannot happen with PB_MAX_STRING-bounded fields */
	dev_request(d, REQ_MESSAGE, 0, 0, envelope, env.len);
}

void msg_progress(struct dev *d, uint64_t done, uint64_t total)
{
	struct msg_bufs m;
	struct pb_buf p;
	pb_init(&p, m.payload, sizeof m.payload);
	pb_uint_field(&p, 1, done);
	pb_uint_field(&p, 2, total);
	send(d, GM_PROGRESS, &p, m.envelope);
}

void msg_error(struct dev *d, uint32_t code, const char *text)
{
	struct msg_bufs m;
	struct pb_buf p;
	pb_init(&p, m.payload, sizeof m.payload);
	pb_uint_field(&p, 1, code);
	pb_string_field(&p, 2, text);
	send(d, GM_ERROR, &p, m.envelope);
}

void msg_log(struct dev *d, const char *text)
{
	struct msg_bufs m;
	struct pb_buf p;
	pb_init(&p, m.payload, sizeof m.payload);
	pb_string_field(&p, 1, text);
	send(d, GM_LOG, &p, m.envelope);
}

void msg_complete(struct dev *d, const char *op, uint64_t bytes_written, int success)
{
	struct msg_bufs m;
	struct pb_buf p;
	pb_init(&p, m.payload, sizeof m.payload);
	pb_string_field(&p, 1, op);
	pb_uint_field(&p, 2, bytes_written);
	pb_bool_field(&p, 3, success);
	send(d, GM_COMPLETE, &p, m.envelope);
}

static const char *format_name(uint32_t f)
{
	switch (f) {
	case FORMAT_RAW:
		return "raw";
	case FORMAT_QCOW2:
		return "qcow2";
	case FORMAT_VMDK:
		return "vmdk";
	case FORMAT_VPC:
		return "vpc";
	case FORMAT_VHDX:
		return "vhdx";
	}
	return "";
}

void msg_create_result(struct dev *d, const struct create_result *r)
{
	struct msg_bufs m;
	struct pb_buf p;
	pb_init(&p, m.payload, sizeof m.payload);
	pb_string_field(&p, 1, format_name(r->target_format));
	pb_uint_field(&p, 2, r->resolved_virtual_size);
	pb_uint_field(&p, 3, r->metadata_bytes_written);
	pb_uint_field(&p, 4, r->file_size_after);
	pb_uint_field(&p, 5, r->resolved_unit_size);
	pb_uint_field(&p, 6, r->error);
	pb_string_field(&p, 7, format_name(r->backing_format));
	pb_uint_field(&p, 8, r->prealloc_start);
	pb_uint_field(&p, 9, r->prealloc_end);
	send(d, GM_CREATE_RESULT, &p, m.envelope);
}
