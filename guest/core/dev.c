#include "dev.h"
#include "instar/mem.h"
#include "portio.h"

void dev_init(struct dev *d)
{
	const struct device_table *t = (const struct device_table *)(uintptr_t)DEVICE_TABLE_ADDR;
	d->table = (t->magic == DEVICE_TABLE_MAGIC && t->input_count <= MAX_INPUTS &&
		    t->output_count <= MAX_OUTPUTS)
			   ? t
			   : 0;
	/* The host's claim is bounded by the region and by the input itself,
	 * so a wrong one can only make the guest read what it could have
	 * asked for. */
	d->head_size = 0;
	d->queued = 0;
	if (d->table && d->table->input_count > 0 && d->table->head_size <= INPUT_HEAD_SIZE &&
	    d->table->head_size <= d->table->inputs[0].size)
		d->head_size = d->table->head_size;
}

static int32_t ring(struct dev *d, uint32_t op, uint32_t device, uint64_t offset, const void *buf, uint64_t len)
{
	volatile struct request *r = &d->req;
	r->op = op;
	r->device = device;
	r->offset = offset;
	r->length = len;
	r->buffer = (uint64_t)(uintptr_t)buf;
	r->status = STATUS_PENDING;
	r->reserved = 0;
	outl(PORT_REQUEST, (uint32_t)(uintptr_t)&d->req);
	return r->status;
}

void dev_flush(struct dev *d)
{
	if (d->queued > 0) {
		ring(d, REQ_MESSAGES, 0, 0, d->queue, d->queued);
		d->queued = 0;
	}
}

int32_t dev_request(struct dev *d, uint32_t op, uint32_t device, uint64_t offset,
		    const void *buf, uint64_t len)
{
	dev_flush(d);
	return ring(d, op, device, offset, buf, len);
}

void dev_queue_message(struct dev *d, const void *msg, uint32_t len)
{
	if (len == 0 || len > MAX_MESSAGE_SIZE)
		return;
	if (len + 4 > sizeof d->queue - d->queued)
		dev_flush(d);
	uint8_t *q = d->queue + d->queued;
	q[0] = (uint8_t)len;
	q[1] = (uint8_t)(len >> 8);
	q[2] = (uint8_t)(len >> 16);
	q[3] = (uint8_t)(len >> 24);
	memcpy(q + 4, msg, len);
	d->queued += 4 + len;
}

/* A buffer the guest may copy into itself: in RAM, clear of the unmapped
 * VMM-private region and the stack guard page. Anything else goes to the
 * host, which refuses it as it refuses any bad buffer. */
static int guest_buffer(uintptr_t buf, uint64_t len)
{
	if (buf < CORE_LOAD_ADDR || buf > GUEST_RAM_SIZE || len > GUEST_RAM_SIZE - buf)
		return 0;
	return buf + len <= STACK_GUARD_ADDR || buf >= STACK_GUARD_ADDR + STACK_GUARD_SIZE;
}

int32_t dev_read(struct dev *d, uint32_t device, uint64_t offset, void *buf, uint64_t len)
{
	if (device == 0 && len > 0 && len <= d->head_size && offset <= d->head_size - len &&
	    guest_buffer((uintptr_t)buf, len)) {
		memcpy(buf, (const uint8_t *)(uintptr_t)INPUT_HEAD_ADDR + offset, len);
		return STATUS_OK;
	}
	return dev_request(d, REQ_READ, device, offset, buf, len);
}

uint32_t dev_input_count(const struct dev *d)
{
	return d->table ? d->table->input_count : 0;
}

uint32_t dev_output_count(const struct dev *d)
{
	return d->table ? d->table->output_count : 0;
}

const struct device_info *dev_input(const struct dev *d, uint32_t i)
{
	return i < dev_input_count(d) ? &d->table->inputs[i] : 0;
}

const struct device_info *dev_output(const struct dev *d, uint32_t i)
{
	return i < dev_output_count(d) ? &d->table->outputs[i] : 0;
}
