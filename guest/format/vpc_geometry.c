#include "vpc_internal.h"

struct vpc_geometry vpc_chs_for(uint64_t total_sectors)
{
	struct vpc_geometry g;
	uint64_t spt, heads, cth;

	if (total_sectors > VPC_CHS_MAX_SECTORS)
		total_sectors = VPC_CHS_MAX_SECTORS;
	if (total_sectors >= 65535ull * 16 * 63) {
		spt = 255;
		heads = 16;
		cth = total_sectors / spt;
	} else {
		spt = 17;
		cth = total_sectors / spt;
		heads = (cth + 1023) / 1024;
		if (heads < 4)
			heads = 4;
		if (cth >= heads * 1024 || heads > 16) {
			spt = 31;
			heads = 16;
			cth = total_sectors / spt;
		}
		if (cth >= heads * 1024) {
			spt = 63;
			heads = 16;
			cth = total_sectors / spt;
		}
	}
	g.cylinders = (uint16_t)(cth / heads);
	g.heads = (uint8_t)heads;
	g.sectors_per_track = (uint8_t)spt;
	return g;
}

static uint64_t chs_sectors(struct vpc_geometry g)
{
	return (uint64_t)g.cylinders * g.heads * g.sectors_per_track;
}

uint64_t vpc_round_sectors(uint64_t requested, struct vpc_geometry *geo)
{
	uint64_t want = requested < VPC_CHS_MAX_SECTORS ? requested : VPC_CHS_MAX_SECTORS;
	struct vpc_geometry g = { 0, 0, 0 };

	/* The geometry of n sectors may cover fewer than n (cylinders round
	 * down), so try n, n+1, ... until one covers the request. Each step
	 * grows cylinders*heads by at most one track's worth, so this ends
	 * within a few thousand steps, at the latest at the largest geometry. */
	for (uint64_t n = want; chs_sectors(g) < want; n++)
		g = vpc_chs_for(n);
	*geo = g;
	if (chs_sectors(g) == VPC_CHS_MAX_SECTORS)
		return requested; /* too big for CHS: the size field rules */
	return chs_sectors(g);
}

uint32_t vpc_checksum(const uint8_t *p, uint32_t len, uint32_t checksum_offset)
{
	uint32_t sum = 0;
	for (uint32_t i = 0; i < len; i++) {
		if (i >= checksum_offset && i < checksum_offset + 4)
			continue;
		sum += p[i];
	}
	return ~sum;
}
