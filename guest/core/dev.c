#include "dev.h"
#include "portio.h"

void dev_init(struct dev *d)
{
	const struct device_table *t = (const struct device_table *)(uintptr_t)DEVICE_TABLE_ADDR;
	d->table = (t->magic == DEVICE_TABLE_MAGIC && t->input_count <= MAX_INPUTS &&
		    t->output_count <= MAX_OUTPUTS)
			   ? t
			   : 0;
}

int32_t dev_request(struct dev *d, uint32_t op, uint32_t device, uint64_t offset,
		    const void *buf, uint64_t len)
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
