/*
 * The info entry point every driver has: what qemu-img info reports about
 * an image, found with qemu's open-time checks. Tables of any length
 * (snapshots, bitmaps, extents) are not kept: each entry goes to the
 * caller's sink as it is read, so an image's table size never depends on
 * scratch.
 */
#ifndef FORMAT_INFO_H
#define FORMAT_INFO_H

#include "format.h"

/* The longest name a driver reports, but for a backing file (qemu's
 * buffer for a qcow2's backing file name). */
#define INFO_MAX_NAME 1024u
/* The longest backing file name (qemu's PATH_MAX - 1, a vmdk's
 * parentFileNameHint). */
#define INFO_MAX_BACKING 4095u

/* A name from the image: bytes as stored, up to the first NUL. */
struct info_name {
	uint8_t bytes[INFO_MAX_BACKING];
	uint32_t len;
	int present;
};

struct info_snapshot {
	const uint8_t *id;
	uint32_t id_len;     /* at most 127, as qemu cuts it */
	const uint8_t *name;
	uint32_t name_len;   /* at most 255 */
	uint64_t vm_state_size;
	uint32_t date_sec, date_nsec;
	uint64_t vm_clock_nsec;
	int has_icount;
	uint64_t icount;
};

struct info_bitmap {
	const uint8_t *name;
	uint32_t name_len;
	uint32_t granularity_bits;
	int in_use, autoflag;
};

struct info_extent {
	uint32_t index; /* 0: the image file itself */
	const char *type; /* as qemu reports it; "" for a monolithic sparse file */
	uint64_t virtual_size;
	int has_cluster_size;
	uint64_t cluster_size;
	int compressed;
	/* An extent file's name as the descriptor stores it (index 1..). */
	const uint8_t *name;
	uint32_t name_len;
};

/* What extent_file returns. */
enum { INFO_EXTENT_OK = 0, INFO_EXTENT_ABSENT = 1 };

/* Where a driver's table entries go; each returns 0, or nonzero to stop
 * (the driver then returns INFO_ERR_TOO_BIG). extent_file (NULL: none is
 * ever given) gives the image's extent file index (1.., in the image's
 * order) as *out: INFO_EXTENT_OK, or INFO_EXTENT_ABSENT when the caller
 * has not opened it (the driver then returns INFO_ERR_NEED_EXTENTS, each
 * extent's name sent). *out stays valid until the next call. */
struct info_sink {
	int (*snapshot)(void *ctx, const struct info_snapshot *s);
	int (*bitmap)(void *ctx, const struct info_bitmap *b);
	int (*extent)(void *ctx, const struct info_extent *e);
	int (*extent_file)(void *ctx, uint32_t index, struct fmt_source *out);
	void *ctx;
};

struct fmt_info {
	uint32_t format; /* FORMAT_* */
	uint64_t virtual_size;
	int has_cluster_size;
	uint64_t cluster_size;
	int dirty;
	/* qemu's bdrv_get_info fails (a vmdk whose extents differ in kind):
	 * neither a cluster size nor the dirty flag is reported. */
	int no_dirty_flag;
	int encrypted;
	struct info_name backing, backing_format;
	uint32_t snapshots, bitmaps, extents; /* how many went to the sink */
	/* qcow2 */
	uint32_t qcow2_version, qcow2_compression_type, qcow2_refcount_bits, qcow2_encrypt_method;
	int qcow2_lazy_refcounts, qcow2_corrupt, qcow2_extended_l2, qcow2_data_file_raw;
	int qcow2_external_data; /* the data file feature bit */
	struct info_name qcow2_data_file;
	/* vmdk */
	uint32_t vmdk_cid, vmdk_parent_cid;
	struct info_name vmdk_create_type;
	/* Bit 1<<INSPECT_CHECK_* for each safety check the image fails that
	 * the driver found while reading it (with an error: what the
	 * refusal is, such as an unknown feature or a vhdx parent); not part
	 * of info's output. */
	uint32_t inspect_checks;
	/* On an error, qemu's words for it (a static string or reason_buf),
	 * or NULL. */
	const char *reason;
	char reason_buf[128];
};

/* How info_fail_num prints its number, as qemu's format does. */
enum { INFO_NUM_UNSIGNED, INFO_NUM_SIGNED32, INFO_NUM_HEX };

/* info_fail_num sets out->reason to prefix followed by v (as kind says)
 * and returns INFO_ERR_INVALID: qemu's messages that name a value. */
uint32_t info_fail_num(struct fmt_info *out, const char *prefix, uint64_t v, int kind);

/* info fills out for the image src: INFO_ERR_OK, or why not. */
typedef uint32_t (*fmt_info_fn)(const struct fmt_source *src, const struct fmt_scratch *scratch,
				const struct info_sink *sink, struct fmt_info *out);

/* Probes src when format is FORMAT_UNSET (qemu's order and scores), then
 * runs that format's info entry point: the one way to a driver's info,
 * for the info operation and the tests alike. */
uint32_t fmt_info_image(uint32_t format, const struct fmt_source *src, const struct fmt_scratch *scratch,
			const struct info_sink *sink, struct fmt_info *out);

/* info_copy_name copies at most max (at most INFO_MAX_BACKING) bytes of
 * p[0..n), up to the first NUL, into name. */
void info_copy_name(struct info_name *name, const uint8_t *p, uint32_t n, uint32_t max);

uint32_t raw_info(const struct fmt_source *, const struct fmt_scratch *, const struct info_sink *, struct fmt_info *);
uint32_t qcow2_info(const struct fmt_source *, const struct fmt_scratch *, const struct info_sink *, struct fmt_info *);
uint32_t vmdk_info(const struct fmt_source *, const struct fmt_scratch *, const struct info_sink *, struct fmt_info *);
uint32_t vpc_info(const struct fmt_source *, const struct fmt_scratch *, const struct info_sink *, struct fmt_info *);
uint32_t vhdx_info(const struct fmt_source *, const struct fmt_scratch *, const struct info_sink *, struct fmt_info *);

#endif
