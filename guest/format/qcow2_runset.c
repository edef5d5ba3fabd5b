#include "qcow2_runset.h"

void q2rs_clear(struct q2_runset *rs)
{
	rs->n = 0;
	rs->overflow = false;
}

/* Index of the first run whose end is > x (runs are sorted and disjoint). */
static uint32_t lower(const struct q2_runset *rs, uint64_t x)
{
	uint32_t lo = 0, hi = rs->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (rs->r[mid].e <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool q2rs_contains(const struct q2_runset *rs, uint64_t x)
{
	uint32_t i = lower(rs, x);
	return i < rs->n && rs->r[i].s <= x;
}

static void shift(struct q2_runset *rs, uint32_t from, int32_t by)
{
	if (by > 0) {
		for (uint32_t i = rs->n; i > from; i--)
			rs->r[i - 1 + (uint32_t)by] = rs->r[i - 1];
	} else if (by < 0) {
		uint32_t d = (uint32_t)(-by);
		for (uint32_t i = from; i + d < rs->n; i++)
			rs->r[i] = rs->r[i + d];
	}
	rs->n = (uint32_t)((int32_t)rs->n + by);
}

void q2rs_add(struct q2_runset *rs, uint64_t s, uint64_t e)
{
	if (s >= e)
		return;
	/* first run that ends at or after s (touching runs merge) */
	uint32_t i = s ? lower(rs, s - 1) : 0;
	uint32_t j = i;
	while (j < rs->n && rs->r[j].s <= e) {
		if (rs->r[j].s < s)
			s = rs->r[j].s;
		if (rs->r[j].e > e)
			e = rs->r[j].e;
		j++;
	}
	if (j == i) {
		if (rs->n == Q2_RUNSET_CAP) {
			rs->overflow = true;
			return;
		}
		shift(rs, i, 1);
	} else if (j > i + 1) {
		shift(rs, i + 1, -(int32_t)(j - i - 1));
	}
	rs->r[i].s = s;
	rs->r[i].e = e;
}

void q2rs_remove(struct q2_runset *rs, uint64_t s, uint64_t e)
{
	if (s >= e)
		return;
	uint32_t i = lower(rs, s);
	while (i < rs->n && rs->r[i].s < e) {
		struct q2_run r = rs->r[i];
		if (r.s < s && r.e > e) {
			/* split in two */
			if (rs->n == Q2_RUNSET_CAP) {
				rs->overflow = true;
				return;
			}
			shift(rs, i + 1, 1);
			rs->r[i].e = s;
			rs->r[i + 1].s = e;
			rs->r[i + 1].e = r.e;
			return;
		}
		if (r.s < s) {
			rs->r[i].e = s;
			i++;
		} else if (r.e > e) {
			rs->r[i].s = e;
			return;
		} else {
			shift(rs, i + 1, -1);
		}
	}
}

uint64_t q2rs_first_gap(const struct q2_runset *rs, uint64_t from, uint64_t n)
{
	uint64_t x = from;
	uint32_t i = lower(rs, x);
	for (; i < rs->n; i++) {
		if (rs->r[i].s > x && rs->r[i].s - x >= n)
			return x;
		if (rs->r[i].e > x)
			x = rs->r[i].e;
	}
	return x;
}

uint64_t q2rs_gap_len(const struct q2_runset *rs, uint64_t x, uint64_t n)
{
	uint32_t i = lower(rs, x);
	if (i == rs->n)
		return n;
	if (rs->r[i].s <= x)
		return 0;
	uint64_t g = rs->r[i].s - x;
	return g < n ? g : n;
}

uint64_t q2rs_end(const struct q2_runset *rs)
{
	return rs->n ? rs->r[rs->n - 1].e : 0;
}

bool q2rs_next_in(const struct q2_runset *rs, uint64_t s, uint64_t e, uint32_t *it, struct q2_run *out)
{
	uint32_t i = *it ? *it : lower(rs, s);
	if (i >= rs->n || rs->r[i].s >= e)
		return false;
	out->s = rs->r[i].s > s ? rs->r[i].s : s;
	out->e = rs->r[i].e < e ? rs->r[i].e : e;
	*it = i + 1;
	return out->s < out->e;
}
