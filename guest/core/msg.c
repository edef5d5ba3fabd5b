#include "msg.h"
#include "msgenc.h"

/* One message buffer, on the stack while a message is sent. */
static void send(struct dev *d, const uint8_t *buf, uint32_t len)
{
	if (len > 0)
		dev_request(d, REQ_MESSAGE, 0, 0, buf, len);
}

void msg_progress(struct dev *d, uint64_t done, uint64_t total)
{
	uint8_t buf[MAX_MESSAGE_SIZE];
	send(d, buf, msgenc_progress(buf, sizeof buf, done, total));
}

void msg_error(struct dev *d, uint32_t code, const char *text)
{
	uint8_t buf[MAX_MESSAGE_SIZE];
	send(d, buf, msgenc_error(buf, sizeof buf, code, text));
}

void msg_log(struct dev *d, const char *text)
{
	uint8_t buf[MAX_MESSAGE_SIZE];
	send(d, buf, msgenc_log(buf, sizeof buf, text));
}

void msg_complete(struct dev *d, const char *op, uint64_t bytes_written, int success)
{
	uint8_t buf[MAX_MESSAGE_SIZE];
	send(d, buf, msgenc_complete(buf, sizeof buf, op, bytes_written, success));
}

void msg_complete_create(struct dev *d, const char *op, uint64_t bytes_written, int success,
			 const struct create_result *r)
{
	uint8_t buf[MAX_MESSAGE_SIZE];
	send(d, buf, msgenc_complete_create(buf, sizeof buf, op, bytes_written, success, r));
}


void msg_output_size(struct dev *d, uint32_t output, uint64_t size)
{
	uint8_t buf[MAX_MESSAGE_SIZE];
	send(d, buf, msgenc_output_size(buf, sizeof buf, output, size));
}
