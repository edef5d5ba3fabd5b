#include "qcow2_sim.h"

#define INV UINT64_MAX

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static void wrote(struct q2_sim *s, uint64_t off, uint64_t len)
{
	s->written_end = max64(s->written_end, off + len);
}

static int model_ok(const struct q2_sim *s)
{
	return s->alloc.overflow || s->blocks.overflow ? Q2_EMODEL : Q2_OK;
}

uint64_t q2_refblocks_needed(const struct q2_geom *g, uint64_t clusters, int generous)
{
	uint64_t per_table_cluster = g->cs / 8;
	uint64_t per_block = (uint64_t)1 << g->rb_bits;
	uint64_t table = 0, blocks = 0, n = 0, last;

	/* Iterate to the fixed point where the refcount structures also
	 * count themselves; "generous" then leaves room for a table half as
	 * large again, and iterates once more. */
	do {
		last = n;
		blocks = div_up(clusters + table + blocks, per_block);
		table = div_up(blocks, per_table_cluster);
		n = clusters + blocks + table;
		if (n == last && generous) {
			clusters += div_up(table, 2);
			n = 0;
			generous = 0;
		}
	} while (n != last);
	return blocks;
}

static int alloc_refblock(struct q2_sim *s, uint64_t c);
static int64_t refcount_area(struct q2_sim *s, uint64_t start, uint64_t extra, int exact,
			     uint64_t new_idx, uint64_t new_c);

/* Sets (inc) or clears the refcount of clusters [c0, c0+n), adding refcount
 * blocks as qemu does; Q2_AGAIN when one was added, after undoing the part
 * already done, exactly like qemu's update_refcount. */
static int update_refcount(struct q2_sim *s, uint64_t c0, uint64_t n, int inc)
{
	uint64_t c = c0, end = c0 + n;

	while (c < end) {
		uint64_t ti = c >> s->g->rb_bits;
		uint64_t seg = min64(end, (ti + 1) << s->g->rb_bits);
		if (inc) {
			int r = alloc_refblock(s, c);
			if (r == Q2_AGAIN && s->fci > c0)
				s->fci = c0;
			if (r != Q2_OK) {
				if (c > c0) {
					q2rs_remove(&s->alloc, c0, c);
					if (c0 < s->fci)
						s->fci = c0;
				}
				return r;
			}
			q2rs_add(&s->alloc, c, seg);
		} else {
			q2rs_remove(&s->alloc, c, seg);
			if (c < s->fci)
				s->fci = c;
		}
		c = seg;
	}
	return model_ok(s);
}

/* Makes sure cluster c's refcount block exists (qemu's
 * alloc_refcount_block). */
static int alloc_refblock(struct q2_sim *s, uint64_t c)
{
	const struct q2_geom *g = s->g;
	uint64_t ti = c >> g->rb_bits;
	int r;

	if (ti < s->rt_size && q2rs_contains(&s->blocks, ti))
		return Q2_OK;

	uint64_t nb = q2rs_first_gap(&s->alloc, s->fci, 1);
	s->fci = nb + 1;
	if ((nb >> g->rb_bits) == ti) {
		/* the new block counts itself */
		q2rs_add(&s->alloc, nb, nb + 1);
	} else {
		/* counted by another block, which may itself be new */
		r = update_refcount(s, nb, 1, 1);
		if (r != Q2_OK)
			return r;
	}
	wrote(s, nb * g->cs, g->cs);

	if (ti < s->rt_size) {
		q2rs_add(&s->blocks, ti, ti + 1);
		if ((r = model_ok(s)) != Q2_OK)
			return r;
		if (s->h->refblock(s->h->ctx, ti, nb))
			return Q2_EHOOK;
		return Q2_AGAIN;
	}

	/* The table is full: qemu builds a larger one past everything
	 * allocated so far, together with the blocks it needs. */
	uint64_t per_block = (uint64_t)1 << g->rb_bits;
	uint64_t used = div_up(max64(c + 1, nb + 1), per_block);
	int64_t e = refcount_area(s, used * per_block, 0, 0, ti, nb);
	if (e < 0)
		return (int)e;
	return Q2_AGAIN;
}

/* qemu's qcow2_refcount_area: new refcount blocks from cluster start for
 * every table slot up to what start+extra clusters need, then a new table
 * after them; the old table is freed. Returns the cluster after the area. */
static int64_t refcount_area(struct q2_sim *s, uint64_t start, uint64_t extra, int exact,
			     uint64_t new_idx, uint64_t new_c)
{
	const struct q2_geom *g = s->g;
	uint64_t total = q2_refblocks_needed(g, start + extra, !exact);
	if (total > Q2_MAX_REFTABLE_ENTRIES)
		return Q2_EFBIG;

	uint64_t area_idx = start >> g->rb_bits;
	uint64_t size = exact ? total : total + div_up(total, 2);
	uint64_t per_cluster = g->cs / 8;
	size = div_up(size, per_cluster) * per_cluster;
	if (size > Q2_MAX_REFTABLE_ENTRIES)
		return Q2_EFBIG;
	uint64_t table_clusters = size / per_cluster;

	/* Slots in [area_idx, total) without a block get one, in order, at
	 * start; the grow path's new block (new_idx) already has one. */
	uint64_t missing = area_idx < total ? total - area_idx : 0;
	{
		uint32_t it = 0;
		struct q2_run run;
		while (q2rs_next_in(&s->blocks, area_idx, total, &it, &run))
			missing -= run.e - run.s;
		if (new_c && new_idx >= area_idx && new_idx < total && !q2rs_contains(&s->blocks, new_idx))
			missing--;
	}
	uint64_t table_off = start + missing;
	uint64_t end = table_off + table_clusters;

	/* refcounts of the new area itself */
	q2rs_add(&s->alloc, start, end);
	wrote(s, start * g->cs, (end - start) * g->cs);

	uint64_t old_off = s->rt_off, old_size = s->rt_size;
	s->rt_off = table_off;
	s->rt_size = size;
	if (s->h->table_freed(s->h->ctx, old_off, old_size))
		return Q2_EHOOK;
	int r = update_refcount(s, old_off, old_size / per_cluster, 0);
	if (r != Q2_OK)
		return r;

	/* Only now are the new blocks in the table on disk. */
	if (new_c) {
		q2rs_add(&s->blocks, new_idx, new_idx + 1);
		if (s->h->refblock(s->h->ctx, new_idx, new_c))
			return Q2_EHOOK;
	}
	uint64_t bc = start;
	for (uint64_t i = area_idx; i < total;) {
		uint64_t gap = q2rs_gap_len(&s->blocks, i, total - i);
		for (uint64_t k = 0; k < gap; k++) {
			if (s->h->refblock(s->h->ctx, i + k, bc + k))
				return Q2_EHOOK;
		}
		q2rs_add(&s->blocks, i, i + gap);
		bc += gap;
		i += gap;
		uint32_t it = 0;
		struct q2_run run;
		if (i < total && q2rs_next_in(&s->blocks, i, total, &it, &run))
			i = run.e;
	}
	if ((r = model_ok(s)) != Q2_OK)
		return r;
	return (int64_t)end;
}

/* qemu's qcow2_alloc_clusters: first fit from free_cluster_index. */
static int64_t alloc_clusters(struct q2_sim *s, uint64_t n)
{
	uint64_t p;
	int r;
	do {
		p = q2rs_first_gap(&s->alloc, s->fci, n);
		s->fci = p + n;
		r = update_refcount(s, p, n, 1);
	} while (r == Q2_AGAIN);
	return r < 0 ? r : (int64_t)p;
}

/* qemu's qcow2_alloc_clusters_at: as many free clusters as follow p. */
static int64_t alloc_clusters_at(struct q2_sim *s, uint64_t p, uint64_t n)
{
	uint64_t i;
	int r;
	do {
		i = q2rs_gap_len(&s->alloc, p, n);
		r = update_refcount(s, p, i, 1);
	} while (r == Q2_AGAIN);
	return r < 0 ? r : (int64_t)i;
}

/* get_cluster_table: the L2 table for l1i, allocated on first use. */
static int ensure_l2(struct q2_sim *s, uint64_t l1i)
{
	if (l1i < s->l2_next)
		return Q2_OK;
	int64_t c = alloc_clusters(s, 1);
	if (c < 0)
		return (int)c;
	wrote(s, (uint64_t)c * s->g->cs, s->g->cs);
	s->l2_next = l1i + 1;
	if (s->h->l2(s->h->ctx, l1i, (uint64_t)c))
		return Q2_EHOOK;
	return Q2_OK;
}

/* qemu's qcow2_alloc_host_offset for one preallocation request at guest
 * byte goff: allocates L2 tables and data clusters, links them. Returns
 * the bytes covered in *bytes and the host byte offset in *host. */
static int alloc_host(struct q2_sim *s, uint64_t goff, uint64_t *bytes, uint64_t *host)
{
	const struct q2_geom *g = s->g;
	uint64_t cs = g->cs, l2n = (uint64_t)1 << g->l2_bits;
	uint64_t start = goff, remaining = *bytes, cluster_off = INV, cur = 0;
	int r;

	*host = INV;
	for (;;) {
		if (*host == INV && cluster_off != INV)
			*host = cluster_off;
		start += cur;
		remaining -= cur;
		if (cluster_off != INV)
			cluster_off += cur;
		if (remaining == 0)
			break;
		cur = remaining;

		/* handle_copied: nothing is allocated yet, but it loads (and so
		 * allocates) the L2 table. */
		if ((r = ensure_l2(s, (start / cs) >> g->l2_bits)) != Q2_OK)
			return r;

		/* handle_alloc */
		uint64_t oic = start % cs;
		uint64_t nb = div_up(oic + cur, cs);
		nb = min64(nb, l2n - ((start / cs) & (l2n - 1)));
		nb = min64(nb, Q2_REQUEST_MAX_BYTES >> g->cluster_bits);
		uint64_t alloc_c;
		if (g->data_file) {
			/* do_alloc_cluster_offset: a data file maps 1:1, and
			 * nothing is allocated in the image */
			alloc_c = start / cs;
		} else if (cluster_off == INV) {
			int64_t p = alloc_clusters(s, nb);
			if (p < 0)
				return (int)p;
			alloc_c = (uint64_t)p;
		} else {
			alloc_c = (cluster_off - cluster_off % cs) / cs;
			int64_t got = alloc_clusters_at(s, alloc_c, nb);
			if (got < 0)
				return (int)got;
			nb = (uint64_t)got;
			if (nb == 0)
				break; /* cannot extend the contiguous allocation */
		}
		uint64_t nbytes = min64(cur + oic, nb * cs);
		cluster_off = alloc_c * cs + oic;
		cur = min64(cur, nbytes - oic);

		/* link the L2 entries; copy-on-write writes zeros from the end
		 * of the request to the next subcluster boundary */
		if (s->h->map(s->h->ctx, start / cs, alloc_c, nb))
			return Q2_EHOOK;
		uint64_t from = oic + cur;
		uint64_t sc = (uint64_t)1 << g->subcluster_bits;
		uint64_t to = div_up(from, sc) * sc;
		if (to > from) {
			if (g->data_file)
				s->data_end = max64(s->data_end, alloc_c * cs + to);
			else
				wrote(s, alloc_c * cs + from, to - from);
			if (s->h->cow(s->h->ctx, alloc_c * cs + from, to - from))
				return Q2_EHOOK;
		}
	}
	*bytes -= remaining;
	return Q2_OK;
}

static int prealloc_metadata(struct q2_sim *s)
{
	const struct q2_geom *g = s->g;
	uint64_t off = 0, bytes = g->vsize, host = 0, cur = 0;
	uint64_t maxreq = (uint64_t)Q2_INT_MAX & ~(g->cs - 1);

	while (bytes) {
		cur = min64(bytes, maxreq);
		int r = alloc_host(s, off, &cur, &host);
		if (r != Q2_OK)
			return r;
		bytes -= cur;
		off += cur;
	}
	/* qemu extends the file to the end of the last request: the data
	 * file, when there is one */
	if (g->data_file)
		s->file_size = s->written_end;
	else
		s->file_size = max64(s->written_end, host + cur);
	return Q2_OK;
}

static int prealloc_data(struct q2_sim *s)
{
	const struct q2_geom *g = s->g;
	uint64_t cs = g->cs, l2n = (uint64_t)1 << g->l2_bits;
	uint64_t data = div_up(g->vsize, cs);
	uint64_t l2s = div_up(data, l2n) + 1;

	/* refcount structures for everything, past the last used cluster */
	int64_t astart = refcount_area(s, q2rs_end(&s->alloc), data + l2s, 1, 0, 0);
	if (astart < 0)
		return (int)astart;
	int64_t got = alloc_clusters_at(s, (uint64_t)astart, data);
	if (got < 0)
		return (int)got;
	if ((uint64_t)got != data)
		return Q2_EMODEL;
	s->area_start = (uint64_t)astart * cs;
	s->area_end = ((uint64_t)astart + data) * cs;

	uint64_t gc = 0, hc = (uint64_t)astart;
	while (gc < data) {
		uint64_t n = min64(data - gc, l2n - (gc & (l2n - 1)));
		int r = ensure_l2(s, gc >> g->l2_bits);
		if (r != Q2_OK)
			return r;
		if (s->h->map(s->h->ctx, gc, hc, n))
			return Q2_EHOOK;
		gc += n;
		hc += n;
	}
	s->file_size = max64(s->written_end, s->area_end);
	return Q2_OK;
}

int q2_sim_run(struct q2_sim *s, const struct q2_geom *g, const struct q2_hooks *h)
{
	uint64_t cs = g->cs;
	int r;

	s->g = g;
	s->h = h;
	q2rs_clear(&s->alloc);
	q2rs_clear(&s->blocks);
	s->fci = 0;
	s->l1_off = 0;
	s->l2_next = 0;
	s->area_start = s->area_end = 0;
	s->data_end = 0;

	/* qemu writes a header cluster, then a table at cluster 1 whose
	 * only entry points at an empty block at cluster 2. */
	s->rt_off = 1;
	s->rt_size = cs / 8;
	q2rs_add(&s->blocks, 0, 1);
	if (h->refblock(h->ctx, 0, 2))
		return Q2_EHOOK;
	s->written_end = 3 * cs;

	int64_t c = alloc_clusters(s, 3);
	if (c != 0)
		return c < 0 ? (int)c : Q2_EMODEL;

	/* truncate to the size: the L1 table */
	if (g->l1_size) {
		c = alloc_clusters(s, div_up(g->l1_size * 8, cs));
		if (c < 0)
			return (int)c;
		s->l1_off = (uint64_t)c;
		wrote(s, (uint64_t)c * cs, g->l1_size * 8);
	}

	switch (g->prealloc) {
	case PREALLOC_METADATA:
		r = prealloc_metadata(s);
		break;
	case PREALLOC_FALLOC:
	case PREALLOC_FULL:
		r = prealloc_data(s);
		break;
	default:
		s->file_size = s->written_end;
		r = Q2_OK;
	}
	if (r != Q2_OK)
		return r;
	return model_ok(s);
}
