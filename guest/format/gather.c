#include "gather.h"
#include "instar/mem.h"

void fmt_gather_init(struct fmt_gather *g, const struct fmt_sink *next, uint8_t *buf, uint32_t cap)
{
	*g = (struct fmt_gather){.next = next, .buf = buf, .cap = cap};
}

int fmt_gather_flush(struct fmt_gather *g)
{
	if (g->len != 0 && g->status == 0)
		g->status = g->next->write(g->next->ctx, g->output, g->offset, g->buf, g->len);
	g->len = 0;
	return g->status;
}

static int gather_write(void *ctx, uint32_t output, uint64_t offset, const void *buf, uint32_t len)
{
	struct fmt_gather *g = ctx;
	if (g->status != 0)
		return g->status;
	if (len == 0)
		return 0;
	uint32_t room = g->cap - g->len;
	if (g->len != 0 && output == g->output && len <= room) {
		if (offset >= g->offset && offset - g->offset == g->len) {
			memcpy(g->buf + g->len, buf, len); /* extends the run at its end */
			g->len += len;
			return 0;
		}
		if (offset < g->offset && g->offset - offset == len) {
			memmove(g->buf + len, g->buf, g->len); /* at its start */
			memcpy(g->buf, buf, len);
			g->offset = offset;
			g->len += len;
			return 0;
		}
	}
	if (fmt_gather_flush(g) != 0)
		return g->status;
	if (len > g->cap) {
		g->status = g->next->write(g->next->ctx, output, offset, buf, len);
		return g->status;
	}
	memcpy(g->buf, buf, len);
	g->output = output;
	g->offset = offset;
	g->len = len;
	return 0;
}

struct fmt_sink fmt_gather_sink(struct fmt_gather *g)
{
	return (struct fmt_sink){.write = gather_write, .ctx = g};
}
