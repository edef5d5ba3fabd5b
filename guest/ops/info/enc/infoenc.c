#include "infoenc.h"

#include "pb.h"

/* GuestMessage field numbers, as in shared/guest.proto. */
enum { GM_COMPLETE = 4, GM_SNAPSHOT = 13, GM_BITMAP = 14, GM_EXTENT = 15 };

/* A payload never exceeds a message; the envelope adds a few bytes. */
#define PAYLOAD_MAX MAX_MESSAGE_SIZE

static uint32_t wrap(uint8_t *out, uint32_t cap, uint32_t field, const struct pb_buf *payload)
{
	struct pb_buf env;
	pb_init(&env, out, cap);
	pb_message_field(&env, field, payload);
	return env.overflow ? 0 : env.len;
}

uint32_t infoenc_snapshot(uint8_t *out, uint32_t cap, const struct info_snapshot *s)
{
	uint8_t buf[PAYLOAD_MAX];
	struct pb_buf p;
	pb_init(&p, buf, sizeof buf);
	pb_bytes_field(&p, 1, s->id, s->id_len);
	pb_bytes_field(&p, 2, s->name, s->name_len);
	pb_uint_field(&p, 3, s->vm_state_size);
	pb_uint_field(&p, 4, s->date_sec);
	pb_uint_field(&p, 5, s->date_nsec);
	pb_uint_field(&p, 6, s->vm_clock_nsec);
	pb_bool_field(&p, 7, s->has_icount);
	pb_uint_field(&p, 8, s->icount);
	return wrap(out, cap, GM_SNAPSHOT, &p);
}

uint32_t infoenc_bitmap(uint8_t *out, uint32_t cap, const struct info_bitmap *b)
{
	uint8_t buf[PAYLOAD_MAX];
	struct pb_buf p;
	pb_init(&p, buf, sizeof buf);
	pb_bytes_field(&p, 1, b->name, b->name_len);
	pb_uint_field(&p, 2, b->granularity_bits);
	pb_bool_field(&p, 3, b->in_use);
	pb_bool_field(&p, 4, b->autoflag);
	return wrap(out, cap, GM_BITMAP, &p);
}

uint32_t infoenc_extent(uint8_t *out, uint32_t cap, const struct info_extent *e)
{
	uint8_t buf[PAYLOAD_MAX];
	struct pb_buf p;
	pb_init(&p, buf, sizeof buf);
	uint32_t n = 0;
	while (e->type && e->type[n] != 0 && n < INFO_MAX_NAME)
		n++;
	pb_uint_field(&p, 1, e->index);
	pb_bytes_field(&p, 2, (const uint8_t *)e->type, n);
	pb_uint_field(&p, 3, e->virtual_size);
	pb_bool_field(&p, 4, e->has_cluster_size);
	pb_uint_field(&p, 5, e->cluster_size);
	pb_bool_field(&p, 6, e->compressed);
	if (e->name)
		pb_bytes_field(&p, 7, e->name, e->name_len <= INFO_MAX_NAME ? e->name_len : INFO_MAX_NAME);
	return wrap(out, cap, GM_EXTENT, &p);
}

/* A name and whether it is present; its bytes are sent as stored (at
 * most max, INFO_MAX_NAME but for the backing file, so that every name
 * at its longest fits in one message): the host escapes them when it
 * prints them. */
static void name_field(struct pb_buf *p, uint32_t has, uint32_t field, const struct info_name *n, uint32_t max)
{
	pb_bool_field(p, has, n->present);
	if (n->present)
		pb_bytes_field(p, field, n->bytes, n->len <= max ? n->len : max);
}

uint32_t infoenc_complete(uint8_t *out, uint32_t cap, uint32_t err, const struct fmt_info *i)
{
	uint8_t rbuf[PAYLOAD_MAX], cbuf[PAYLOAD_MAX];
	struct pb_buf r, c;
	pb_init(&r, rbuf, sizeof rbuf);
	pb_uint_field(&r, 1, err);
	pb_string_field(&r, 2, format_name(i->format));
	pb_uint_field(&r, 3, i->virtual_size);
	pb_bool_field(&r, 4, i->has_cluster_size);
	pb_uint_field(&r, 5, i->cluster_size);
	pb_bool_field(&r, 6, !i->no_dirty_flag);
	pb_bool_field(&r, 7, i->dirty);
	pb_bool_field(&r, 8, i->encrypted);
	name_field(&r, 9, 10, &i->backing, INFO_MAX_BACKING);
	name_field(&r, 11, 12, &i->backing_format, INFO_MAX_NAME);
	pb_uint_field(&r, 13, i->snapshots);
	pb_uint_field(&r, 14, i->bitmaps);
	pb_uint_field(&r, 15, i->extents);
	pb_uint_field(&r, 16, i->qcow2_version);
	pb_uint_field(&r, 17, i->qcow2_compression_type);
	pb_bool_field(&r, 18, i->qcow2_lazy_refcounts);
	pb_uint_field(&r, 19, i->qcow2_refcount_bits);
	pb_bool_field(&r, 20, i->qcow2_corrupt);
	pb_bool_field(&r, 21, i->qcow2_extended_l2);
	name_field(&r, 22, 23, &i->qcow2_data_file, INFO_MAX_NAME);
	pb_bool_field(&r, 24, i->qcow2_data_file_raw);
	pb_uint_field(&r, 25, i->qcow2_encrypt_method);
	pb_uint_field(&r, 26, i->vmdk_cid);
	pb_uint_field(&r, 27, i->vmdk_parent_cid);
	if (i->vmdk_create_type.present)
		pb_bytes_field(&r, 28, i->vmdk_create_type.bytes,
			       i->vmdk_create_type.len <= INFO_MAX_NAME ? i->vmdk_create_type.len : INFO_MAX_NAME);
	pb_bool_field(&r, 29, i->qcow2_external_data);

	pb_init(&c, cbuf, sizeof cbuf);
	pb_string_field(&c, 1, "info");
	pb_uint_field(&c, 2, 0);
	pb_bool_field(&c, 3, err == INFO_ERR_OK);
	pb_message_field(&c, 4, &r);
	return wrap(out, cap, GM_COMPLETE, &c);
}
