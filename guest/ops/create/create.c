/*
 * The create operation: read the CreateConfig the host wrote, parse the
 * backing file's header when one is attached (here in the guest, never on
 * the host), plan the image's metadata with the format's driver, write it
 * through the call table, and report a CreateResult. It names no format:
 * everything about one is in its driver.
 */
#include "instar/opinput.h"
#include "detect.h"
#include "gather.h"

#define SCRATCH_BASE OP_SCRATCH_BASE
/* The planners' scratch; the gather's staging buffer, its run list and the
 * batch's descriptors follow it, below the heap. Half the batch's byte
 * bound stages a full list of 512-byte L2 tables. */
#define GATHER_SIZE ((uint32_t)MAX_BATCH_BYTES / 2)
#define GATHER_RUNS ((uint32_t)MAX_BATCH)
#define GATHER_AREA (GATHER_SIZE + GATHER_RUNS * (sizeof(struct fmt_write) + sizeof(struct request)))
#define SCRATCH_SIZE (OP_SCRATCH_SIZE - GATHER_AREA)
#define GATHER_BASE (SCRATCH_BASE + SCRATCH_SIZE)
#define GATHER_RUN_LIST ((struct fmt_write *)(uintptr_t)(GATHER_BASE + GATHER_SIZE))
#define BATCH_ENTRIES ((struct request *)(uintptr_t)(GATHER_RUN_LIST + GATHER_RUNS))

_Static_assert(GATHER_SIZE <= MAX_TRANSFER && GATHER_SIZE <= MAX_BATCH_BYTES, "a run or list the host refuses");
_Static_assert(SCRATCH_SIZE % 16 == 0 && GATHER_SIZE % 16 == 0 && sizeof(struct fmt_write) % 8 == 0,
	       "batch descriptors must be 8-byte aligned");

struct create {
	const struct call_table *ct;
	const struct create_config *cfg;
	struct create_result result;
	struct plan_result plan;
};

/* list_write makes one write a request and more a batch: one exit. */
static int list_write(void *ctx, const struct fmt_write *w, uint32_t n)
{
	const struct call_table *ct = ctx;
	if (n == 1)
		return ct->write_output(w->output, w->offset, w->buf, w->len);
	struct request *e = BATCH_ENTRIES;
	for (uint32_t i = 0; i < n; i++)
		e[i] = (struct request){.op = REQ_WRITE,
					.device = w[i].output,
					.offset = w[i].offset,
					.length = w[i].len,
					.buffer = (uint64_t)(uintptr_t)w[i].buf,
					.status = STATUS_PENDING};
	return ct->write_output_batch(e, n);
}

static void finish(struct create *c, uint32_t err)
{
	c->result.error = err;
	/* The code's wording is the host's; only a planner's own reason
	 * travels as text. */
	if (err != CREATE_ERR_OK && c->plan.reason)
		c->ct->send_error(err, c->plan.reason);
	c->ct->send_complete_create("create", c->result.metadata_bytes_written, err == CREATE_ERR_OK, &c->result);
}

static int ct_has_backing(const struct call_table *ct)
{
	return ct->get_input_device_count() >= 1;
}

/* probe_backing parses the attached backing file; it fills the detected
 * format and, when the config gives no size, the virtual size. */
static uint32_t probe_backing(struct create *c, uint64_t *virtual_size)
{
	const struct create_config *cfg = c->cfg;
	if (!ct_has_backing(c->ct))
		return CREATE_ERR_BAD_CONFIG;
	struct fmt_source src = op_input_source(c->ct);
	struct fmt_scratch scratch = {.buf = SCRATCH_BASE, .size = SCRATCH_SIZE};
	struct backing_info info = {0};
	uint32_t err;
	if (cfg->backing_format == FORMAT_UNSET) {
		/* qemu-img 7.2 refuses -b without -F, naming what it detected. */
		uint32_t detected = FORMAT_UNSET;
		if (fmt_detect(&src, &scratch, &detected) == CREATE_ERR_OK)
			c->result.backing_format = detected;
		return CREATE_ERR_BACKING_FORMAT;
	}
	/* With -F the backing file is parsed as that format, not probed, as
	 * qemu does (a fixed VHD probes as raw, yet -F vpc opens it). */
	if ((err = fmt_parse(cfg->backing_format, &src, &scratch, &info)) != CREATE_ERR_OK)
		return err;
	c->result.backing_format = cfg->backing_format;
	if (!(cfg->flags & FLAG_SIZE_GIVEN))
		*virtual_size = info.virtual_size;
	return CREATE_ERR_OK;
}

/* plan writes the image through a sink that gathers its writes into
 * batches (each request is an exit), and flushes it. */
static uint32_t plan(struct create *c, uint64_t virtual_size)
{
	struct fmt_list_sink direct = {.write = list_write, .ctx = (void *)c->ct};
	struct fmt_gather gather;
	fmt_gather_init(&gather, &direct, GATHER_BASE, GATHER_SIZE, GATHER_RUN_LIST, GATHER_RUNS);
	struct fmt_sink sink = fmt_gather_sink(&gather);
	struct fmt_source backing = op_input_source(c->ct);
	struct fmt_scratch scratch = {.buf = SCRATCH_BASE, .size = SCRATCH_SIZE};
	uint32_t err = fmt_plan_image(c->cfg, virtual_size, scratch, &sink, ct_has_backing(c->ct) ? &backing : 0,
				      &c->plan);
	if (fmt_gather_flush(&gather) != 0 && err == CREATE_ERR_OK)
		err = CREATE_ERR_WRITE_FAILED;
	return err;
}

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	struct create c = {
		.ct = ct,
		.cfg = (const struct create_config *)(uintptr_t)OPERATION_CONFIG_ADDR,
		.result = {.magic = CREATE_RESULT_MAGIC},
	};
	const struct create_config *cfg = c.cfg;
	c.result.target_format = cfg->target_format;
	if (cfg->magic != CREATE_CONFIG_MAGIC ||
	    (ct->get_output_device_count() < 1 && !(cfg->flags & FLAG_PROBE_ONLY))) {
		finish(&c, CREATE_ERR_BAD_CONFIG);
		return;
	}
	if (cfg->backing_file_len > CREATE_CONFIG_MAX_BACKING_FILE) {
		finish(&c, CREATE_ERR_BACKING_TOO_LONG);
		return;
	}
	uint64_t virtual_size = cfg->virtual_size;
	uint32_t err;
	if (cfg->backing_file_len > 0 && !(cfg->flags & FLAG_BACKING_UNSAFE) &&
	    (err = probe_backing(&c, &virtual_size)) != CREATE_ERR_OK) {
		finish(&c, err);
		return;
	}
	/* The probe reports the backing file's size as it found it: how it
	 * rounds depends on the format, and the host rounds it as qemu does. */
	if (cfg->flags & FLAG_PROBE_ONLY) {
		c.result.resolved_virtual_size = virtual_size;
		finish(&c, CREATE_ERR_OK);
		return;
	}
	/* Every format works in whole 512-byte sectors, as qemu-img does. */
	if (virtual_size > UINT64_MAX - 511) {
		finish(&c, CREATE_ERR_INVALID_SIZE);
		return;
	}
	virtual_size = (virtual_size + 511) & ~(uint64_t)511;
	c.result.resolved_virtual_size = virtual_size;
	err = plan(&c, virtual_size);
	if (err == CREATE_ERR_OK) {
		c.result.resolved_virtual_size = c.plan.virtual_size;
		c.result.metadata_bytes_written = c.plan.bytes_written;
		c.result.file_size_after = c.plan.file_size[0];
		c.result.resolved_unit_size = c.plan.unit_size;
		c.result.prealloc_start = c.plan.prealloc_start;
		c.result.prealloc_end = c.plan.prealloc_end;
		for (uint32_t i = 1; i < c.plan.output_count && i < MAX_OUTPUTS; i++)
			ct->send_output_size(i, c.plan.file_size[i]);
	}
	finish(&c, err);
}
