/* The qcow2 header cluster as qemu-img 7.2 leaves it. Internal. */
#ifndef FORMAT_QCOW2_HEADER_H
#define FORMAT_QCOW2_HEADER_H

#include <stdint.h>

#include "qcow2_geom.h"

/* Where the refcount and L1 tables ended up. */
struct q2_header_layout {
	uint64_t l1_off;      /* bytes; 0 when there is no L1 table */
	uint64_t rt_off;      /* bytes */
	uint64_t rt_clusters;
};

/* Bytes of the header cluster before the zero padding: header, header
 * extensions, backing file name. */
uint32_t q2_header_len(const struct q2_geom *g);

/* Renders the first len bytes of the header cluster into buf (len must be
 * at least q2_header_len(g)); the rest of the cluster is zeros. */
void q2_render_header(const struct q2_geom *g, const struct q2_header_layout *l, uint8_t *buf, uint32_t len);

#endif
