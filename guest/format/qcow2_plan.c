/*
 * The qcow2 planner: runs the allocator model (qcow2_sim.c) several times
 * and writes, in each pass, what that pass can know:
 *   survey  - final layout: which clusters are used, where the refcount
 *             table ended up, which tables qemu replaced;
 *   stale   - per window of refcount-table slots: the replaced tables'
 *             bytes, which qemu leaves on disk (later passes overwrite the
 *             clusters qemu reused);
 *   final   - per window: the refcount table and the refcount blocks;
 *   tables  - L2 tables, the L1 table, copy-on-write zeros, the header.
 * Windows keep memory bounded: a refcount table can reach 64 MiB.
 */
#include "info.h"
#include "inspect.h"
#include "qcow2.h"

#include "endian.h"
#include "instar/mem.h"
#include "qcow2_geom.h"
#include "qcow2_header.h"
#include "qcow2_runset.h"
#include "qcow2_sim.h"

#define Q2_MAX_STALE 64
#define Q2_MAX_MAPS 256
#define Q2_EBUF_MIN (64u * 1024u)
#define Q2_COPIED ((uint64_t)1 << 63)

struct q2_stale {
	uint64_t c, entries;
};

/* A run of guest clusters mapped to consecutive host clusters. */
struct q2_map {
	uint64_t guest_cluster, host_cluster, count;
};

struct q2_plan {
	struct q2_geom g;
	struct q2_sim sim;
	struct q2_runset final_alloc; /* clusters in use at the end */
	const struct fmt_sink *sink;
	uint64_t bytes;
	int failed;   /* a sink write failed */
	int overflow; /* a fixed-size list overflowed */

	uint8_t *ebuf; /* write buffer */
	uint32_t elen;
	uint64_t *win; /* refcount-table window, or L1 chunk */
	uint64_t wcap; /* slots the scratch has room for */
	uint64_t l1cap; /* slots of an L1 chunk: wcap, or less for a small L1 */

	/* survey results */
	struct q2_stale stale[Q2_MAX_STALE];
	uint32_t nstale;
	uint64_t stale_max;
	uint64_t rt_off, rt_size, l1_off;

	/* current window of table slots [win_start, win_end) */
	uint64_t win_start, win_end;

	/* tables pass: the L2 table being filled, the L1 chunk */
	int have_l2;
	uint64_t l2_idx, l2_c;
	struct q2_map maps[Q2_MAX_MAPS];
	uint32_t nmaps;
	uint64_t l1_chunk_start;
};

_Static_assert(sizeof(struct q2_plan) + 16 + 2 * Q2_EBUF_MIN <= QCOW2_MIN_SCRATCH,
	       "QCOW2_MIN_SCRATCH too small for the planner state");

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- writing ---- */

/* Writes to output dev: 0 the image, 1 the external data file. */
static int out_to(struct q2_plan *p, uint32_t dev, uint64_t off, const uint8_t *buf, uint64_t len)
{
	if (p->failed)
		return -1;
	while (len) {
		uint32_t n = len > MAX_TRANSFER ? MAX_TRANSFER : (uint32_t)len;
		if (p->sink->write(p->sink->ctx, dev, off, buf, n) < 0) {
			p->failed = 1;
			return -1;
		}
		p->bytes += n;
		off += n;
		buf += n;
		len -= n;
	}
	return 0;
}

static int out(struct q2_plan *p, uint64_t off, const uint8_t *buf, uint64_t len)
{
	return out_to(p, 0, off, buf, len);
}

static int out_zeros_to(struct q2_plan *p, uint32_t dev, uint64_t off, uint64_t len)
{
	/* Only as much as is written: the buffer is up to 1 MiB of fresh
	 * memory, and the zeros here are usually a few bytes of COW tail. */
	memset(p->ebuf, 0, min64(len, p->elen));
	while (len) {
		uint64_t n = min64(len, p->elen);
		if (out_to(p, dev, off, p->ebuf, n))
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

static int out_zeros(struct q2_plan *p, uint64_t off, uint64_t len)
{
	return out_zeros_to(p, 0, off, len);
}

/* Refcount-table slots [a, b) of the current window, as stored at the
 * table at cluster tc. */
static int out_table(struct q2_plan *p, uint64_t tc, uint64_t a, uint64_t b)
{
	uint64_t cs = p->g.cs, per = p->elen / 8;
	while (a < b) {
		uint64_t n = min64(b - a, per);
		for (uint64_t k = 0; k < n; k++)
			put_be64(p->ebuf + 8 * k, p->win[a - p->win_start + k] * cs);
		if (out(p, tc * cs + 8 * a, p->ebuf, 8 * n))
			return -1;
		a += n;
	}
	return 0;
}

/* Refcount block idx at cluster c, from the final cluster usage. */
static int out_refblock(struct q2_plan *p, uint64_t idx, uint64_t c)
{
	uint32_t order = p->g.refcount_order;
	uint64_t rb = (uint64_t)1 << p->g.rb_bits;
	uint64_t first = idx << p->g.rb_bits;
	uint64_t per = ((uint64_t)p->elen * 8) >> order;

	for (uint64_t k0 = 0; k0 < rb; k0 += per) {
		uint64_t n = min64(per, rb - k0);
		uint64_t nbytes = (n << order) / 8;
		memset(p->ebuf, 0, nbytes);
		uint32_t it = 0;
		struct q2_run run;
		while (q2rs_next_in(&p->final_alloc, first + k0, first + k0 + n, &it, &run)) {
			for (uint64_t x = run.s; x < run.e; x++) {
				uint64_t k = x - first - k0;
				if (order >= 3) {
					p->ebuf[((k + 1) << (order - 3)) - 1] = 1;
				} else {
					uint64_t bit = k << order; /* LSB first */
					p->ebuf[bit / 8] |= (uint8_t)(1u << (bit % 8));
				}
			}
		}
		if (out(p, c * p->g.cs + (k0 << order) / 8, p->ebuf, nbytes))
			return -1;
	}
	return 0;
}

/* The L2 table being filled: entries host|COPIED, bitmaps zero (qemu
 * marks preallocated clusters allocated in the entry only). */
static int out_l2(struct q2_plan *p)
{
	if (!p->have_l2)
		return 0;
	const struct q2_geom *g = &p->g;
	uint64_t l2n = (uint64_t)1 << g->l2_bits, first = p->l2_idx << g->l2_bits;
	uint64_t per = p->elen / g->l2e_size;

	for (uint64_t k0 = 0; k0 < l2n; k0 += per) {
		uint64_t n = min64(per, l2n - k0);
		memset(p->ebuf, 0, n * g->l2e_size);
		for (uint32_t i = 0; i < p->nmaps; i++) {
			const struct q2_map *m = &p->maps[i];
			uint64_t s = m->guest_cluster > first + k0 ? m->guest_cluster : first + k0;
			uint64_t e = min64(m->guest_cluster + m->count, first + k0 + n);
			for (uint64_t x = s; x < e; x++)
				put_be64(p->ebuf + (x - first - k0) * g->l2e_size,
					 ((m->host_cluster + x - m->guest_cluster) * g->cs) | Q2_COPIED);
		}
		if (out(p, p->l2_c * g->cs + k0 * g->l2e_size, p->ebuf, n * g->l2e_size))
			return -1;
	}
	p->have_l2 = 0;
	p->nmaps = 0;
	return 0;
}

/* Writes the L1 chunk [l1_chunk_start, ...) and moves to the next one. */
static int flush_l1(struct q2_plan *p)
{
	uint64_t n = min64(p->l1cap, p->g.l1_size - p->l1_chunk_start);
	uint8_t *b = (uint8_t *)p->win;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t c = p->win[k];
		put_be64(b + 8 * k, c ? (c * p->g.cs) | Q2_COPIED : 0);
	}
	if (out(p, p->l1_off * p->g.cs + 8 * p->l1_chunk_start, b, 8 * n))
		return -1;
	memset(p->win, 0, 8 * n);
	p->l1_chunk_start += n;
	return 0;
}

static int out_header(struct q2_plan *p)
{
	struct q2_header_layout l = {
		.l1_off = p->g.l1_size ? p->l1_off * p->g.cs : 0,
		.rt_off = p->rt_off * p->g.cs,
		.rt_clusters = p->rt_size / (p->g.cs / 8),
	};
	uint64_t first = min64(p->g.cs, p->elen);
	q2_render_header(&p->g, &l, p->ebuf, (uint32_t)first);
	if (out(p, 0, p->ebuf, first))
		return -1;
	return out_zeros(p, first, p->g.cs - first);
}

/* ---- hooks ---- */

static int nop_slot(void *ctx, uint64_t a, uint64_t b)
{
	(void)ctx, (void)a, (void)b;
	return 0;
}

static int nop_map(void *ctx, uint64_t a, uint64_t b, uint64_t c)
{
	(void)ctx, (void)a, (void)b, (void)c;
	return 0;
}

static int survey_freed(void *ctx, uint64_t c, uint64_t entries)
{
	struct q2_plan *p = ctx;
	if (p->nstale == Q2_MAX_STALE) {
		p->overflow = 1;
		return 1;
	}
	p->stale[p->nstale].c = c;
	p->stale[p->nstale].entries = entries;
	p->nstale++;
	if (entries > p->stale_max)
		p->stale_max = entries;
	return 0;
}

static int window_refblock(void *ctx, uint64_t idx, uint64_t c)
{
	struct q2_plan *p = ctx;
	if (idx >= p->win_start && idx < p->win_end)
		p->win[idx - p->win_start] = c;
	return 0;
}

static int stale_freed(void *ctx, uint64_t c, uint64_t entries)
{
	struct q2_plan *p = ctx;
	if (p->win_start >= entries)
		return 0;
	return out_table(p, c, p->win_start, min64(p->win_end, entries));
}

static int tables_l2(void *ctx, uint64_t l1i, uint64_t c)
{
	struct q2_plan *p = ctx;
	if (out_l2(p))
		return 1;
	while (l1i >= p->l1_chunk_start + p->l1cap)
		if (flush_l1(p))
			return 1;
	p->win[l1i - p->l1_chunk_start] = c;
	p->have_l2 = 1;
	p->l2_idx = l1i;
	p->l2_c = c;
	return 0;
}

static int tables_map(void *ctx, uint64_t guest_cluster, uint64_t host_cluster, uint64_t count)
{
	struct q2_plan *p = ctx;
	if (p->nmaps) {
		struct q2_map *m = &p->maps[p->nmaps - 1];
		if (m->guest_cluster + m->count == guest_cluster && m->host_cluster + m->count == host_cluster) {
			m->count += count;
			return 0;
		}
	}
	if (p->nmaps == Q2_MAX_MAPS) {
		p->overflow = 1;
		return 1;
	}
	p->maps[p->nmaps].guest_cluster = guest_cluster;
	p->maps[p->nmaps].host_cluster = host_cluster;
	p->maps[p->nmaps].count = count;
	p->nmaps++;
	return 0;
}

static int tables_cow(void *ctx, uint64_t off, uint64_t len)
{
	struct q2_plan *p = ctx;
	return out_zeros_to(p, p->g.data_file ? 1 : 0, off, len);
}

/* ---- passes ---- */

static uint32_t run(struct q2_plan *p, const struct q2_hooks *h)
{
	int r = q2_sim_run(&p->sim, &p->g, h);
	if (p->failed)
		return CREATE_ERR_WRITE_FAILED;
	if (p->overflow)
		return CREATE_ERR_SCRATCH_TOO_SMALL;
	switch (r) {
	case Q2_OK:
		return CREATE_ERR_OK;
	case Q2_EFBIG:
		return CREATE_ERR_INVALID_SIZE;
	case Q2_EHOOK:
		return CREATE_ERR_WRITE_FAILED;
	default:
		return CREATE_ERR_SCRATCH_TOO_SMALL;
	}
}

/* Runs the model once per window of refcount-table slots below limit;
 * after each run, final() may write what the window knows. The last
 * window stops at limit: nothing reads slots past it, and clearing only
 * the slots in use keeps the cost to the table's size, not the scratch's
 * (fresh guest memory costs a page fault per 4 KiB touched). */
static uint32_t windows(struct q2_plan *p, const struct q2_hooks *h, uint64_t limit, int final)
{
	for (p->win_start = 0; p->win_start < limit; p->win_start = p->win_end) {
		p->win_end = p->win_start + min64(p->wcap, limit - p->win_start);
		memset(p->win, 0, (p->win_end - p->win_start) * 8);
		uint32_t e = run(p, h);
		if (e != CREATE_ERR_OK)
			return e;
		if (!final)
			continue;
		uint64_t b = min64(p->win_end, p->rt_size);
		if (out_table(p, p->rt_off, p->win_start, b))
			return CREATE_ERR_WRITE_FAILED;
		for (uint64_t i = p->win_start; i < b; i++) {
			uint64_t c = p->win[i - p->win_start];
			if (c && out_refblock(p, i, c))
				return CREATE_ERR_WRITE_FAILED;
		}
	}
	return CREATE_ERR_OK;
}

static uint32_t qcow2_plan(const struct fmt_plan *pl, struct plan_result *res)
{
	const struct create_config *cfg = pl->cfg;
	if (!cfg || !pl->sink || !res || !pl->sink->write)
		return CREATE_ERR_BAD_CONFIG;

	/* carve the scratch: state, write buffer, window */
	uintptr_t base = ((uintptr_t)pl->scratch.buf + 15) & ~(uintptr_t)15;
	uintptr_t end = (uintptr_t)pl->scratch.buf + pl->scratch.size;
	struct q2_plan *p = (struct q2_plan *)base;
	memset(p, 0, sizeof(*p));
	uintptr_t rest = base + ((sizeof(*p) + 15) & ~(size_t)15);
	uintptr_t avail = end - rest;
	p->elen = avail / 2 > MAX_TRANSFER ? MAX_TRANSFER : (uint32_t)(avail / 2 & ~(uintptr_t)4095);
	p->ebuf = (uint8_t *)rest;
	p->win = (uint64_t *)(rest + p->elen);
	p->wcap = (avail - p->elen) / 8;
	p->sink = pl->sink;

	uint32_t e = q2_geom_init(cfg, pl->virtual_size, &p->g, &res->reason);
	if (e != CREATE_ERR_OK)
		return e;
	if (q2_header_len(&p->g) > p->g.cs) {
		/* qemu records the data file first: when that alone does not
		 * fit, its header update fails, before any backing file */
		struct q2_geom alone = p->g;
		alone.backing = 0;
		alone.backing_len = 0;
		if (alone.data_file && q2_header_len(&alone) > alone.cs) {
			res->reason = "Could not update qcow2 header: No space left on device";
			return CREATE_ERR_INVALID_OPTION;
		}
		return CREATE_ERR_BACKING_TOO_LONG;
	}

	static const struct q2_hooks survey = {nop_slot, survey_freed, nop_slot, nop_map, nop_slot, 0};
	struct q2_hooks h = survey;
	h.ctx = p;
	if ((e = run(p, &h)) != CREATE_ERR_OK)
		return e;
	p->final_alloc = p->sim.alloc;
	p->rt_off = p->sim.rt_off;
	p->rt_size = p->sim.rt_size;
	p->l1_off = p->sim.l1_off;

	/* replaced tables first: anything qemu put there later overwrites */
	h.refblock = window_refblock;
	h.table_freed = stale_freed;
	if (p->nstale && (e = windows(p, &h, p->stale_max, 0)) != CREATE_ERR_OK)
		return e;
	h.table_freed = nop_slot;
	if ((e = windows(p, &h, p->rt_size, 1)) != CREATE_ERR_OK)
		return e;

	h.refblock = nop_slot;
	h.l2 = tables_l2;
	h.map = tables_map;
	h.cow = tables_cow;
	/* L2 tables only exist for l1i < l1_size: a chunk larger than the L1
	 * table would be cleared for nothing. */
	p->l1cap = min64(p->wcap, p->g.l1_size);
	memset(p->win, 0, p->l1cap * 8);
	p->l1_chunk_start = 0;
	if ((e = run(p, &h)) != CREATE_ERR_OK)
		return e;
	if (out_l2(p))
		return CREATE_ERR_WRITE_FAILED;
	while (p->l1_chunk_start < p->g.l1_size)
		if (flush_l1(p))
			return CREATE_ERR_WRITE_FAILED;
	if (out_header(p))
		return CREATE_ERR_WRITE_FAILED;

	res->virtual_size = p->g.vsize;
	res->bytes_written = p->bytes;
	res->unit_size = (uint32_t)p->g.cs;
	res->output_count = 1;
	res->file_size[0] = p->sim.file_size;
	if (p->g.data_file) {
		/* the data file: what was written, and at least the virtual
		 * size, which the host grows it to as qemu's file driver does */
		res->output_count = 2;
		res->file_size[1] = p->sim.data_end > p->g.vsize ? p->sim.data_end : p->g.vsize;
	}
	res->prealloc_start = p->sim.area_start;
	res->prealloc_end = p->sim.area_end;
	return CREATE_ERR_OK;
}

FMT_DRIVER(qcow2, QCOW2, QCOW2_MIN_SCRATCH, qcow2_inspect);
