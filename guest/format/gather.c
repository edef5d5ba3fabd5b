#include "gather.h"
#include "instar/mem.h"

void fmt_gather_init(struct fmt_gather *g, const struct fmt_list_sink *next, uint8_t *buf, uint32_t cap,
		     struct fmt_write *runs, uint32_t max_runs)
{
	*g = (struct fmt_gather){.next = next, .buf = buf, .cap = cap, .runs = runs, .max_runs = max_runs};
}

int fmt_gather_flush(struct fmt_gather *g)
{
	if (g->nruns != 0 && g->status == 0)
		g->status = g->next->write(g->next->ctx, g->runs, g->nruns);
	g->nruns = 0;
	g->used = 0;
	return g->status;
}

/* join adds the write to the last run when it extends it at either end;
 * the last run's data is the end of the staged bytes. */
static int join(struct fmt_gather *g, uint32_t output, uint64_t offset, const void *buf, uint32_t len)
{
	if (g->nruns == 0 || len > g->cap - g->used)
		return 0;
	struct fmt_write *last = &g->runs[g->nruns - 1];
	if (output != last->output)
		return 0;
	uint8_t *data = g->buf + g->used - last->len;
	if (offset >= last->offset && offset - last->offset == last->len) {
		memcpy(data + last->len, buf, len); /* at its end */
	} else if (offset < last->offset && last->offset - offset == len) {
		memmove(data + len, data, last->len); /* at its start */
		memcpy(data, buf, len);
		last->offset = offset;
	} else {
		return 0;
	}
	last->len += len;
	g->used += len;
	return 1;
}

static int gather_write(void *ctx, uint32_t output, uint64_t offset, const void *buf, uint32_t len)
{
	struct fmt_gather *g = ctx;
	if (g->status != 0)
		return g->status;
	if (len == 0 || join(g, output, offset, buf, len))
		return 0;
	if ((g->nruns == g->max_runs || len > g->cap - g->used) && fmt_gather_flush(g) != 0)
		return g->status;
	if (len > g->cap) {
		struct fmt_write w = {.buf = buf, .offset = offset, .output = output, .len = len};
		g->status = g->next->write(g->next->ctx, &w, 1);
		return g->status;
	}
	memcpy(g->buf + g->used, buf, len);
	g->runs[g->nruns++] = (struct fmt_write){.buf = g->buf + g->used, .offset = offset, .output = output, .len = len};
	g->used += len;
	return 0;
}

struct fmt_sink fmt_gather_sink(struct fmt_gather *g)
{
	return (struct fmt_sink){.write = gather_write, .ctx = g};
}
