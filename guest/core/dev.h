/* The paravirtual device driver: one OUT per request, the descriptor in
 * guest memory, the status written back by the VMM. */
#ifndef CORE_DEV_H
#define CORE_DEV_H

#include "instar/shared.h"

struct dev {
	const struct device_table *table; /* NULL when the host's is invalid */
	uint32_t head_size; /* bytes of input 0 at INPUT_HEAD_ADDR */
	struct request req;
	/* Queued messages (REQ_MESSAGES): each a 4-byte little-endian length
	 * and the message. */
	uint32_t queued;
	uint8_t queue[MAX_MESSAGES_BYTES];
};

void dev_init(struct dev *d);
int32_t dev_request(struct dev *d, uint32_t op, uint32_t device, uint64_t offset,
		    const void *buf, uint64_t len);
/* dev_queue_message queues one message (1 to MAX_MESSAGE_SIZE bytes) for
 * the next REQ_MESSAGES; dev_flush sends what is queued. Every other
 * request flushes first, so the host sees messages and requests in the
 * order the guest made them. */
void dev_queue_message(struct dev *d, const void *msg, uint32_t len);
void dev_flush(struct dev *d);
int32_t dev_read(struct dev *d, uint32_t device, uint64_t offset, void *buf, uint64_t len);
uint32_t dev_input_count(const struct dev *d);
uint32_t dev_output_count(const struct dev *d);
const struct device_info *dev_input(const struct dev *d, uint32_t i);
const struct device_info *dev_output(const struct dev *d, uint32_t i);

#endif
