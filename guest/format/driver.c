/* The list of format drivers, generated from the format table, and what
 * every driver shares. */
#include "format.h"

#define DECLARE_DRIVER(name) extern const struct fmt_driver name##_driver;
FORMAT_DRIVERS(DECLARE_DRIVER)

static const struct fmt_driver *const drivers[] = {
#define LIST_DRIVER(name) &name##_driver,
	FORMAT_DRIVERS(LIST_DRIVER)
};

uint32_t fmt_driver_count(void)
{
	return sizeof drivers / sizeof drivers[0];
}

const struct fmt_driver *fmt_driver_at(uint32_t i)
{
	return i < fmt_driver_count() ? drivers[i] : 0;
}

const struct fmt_driver *fmt_driver(uint32_t format)
{
	for (uint32_t i = 0; i < fmt_driver_count(); i++)
		if (drivers[i]->format == format)
			return drivers[i];
	return 0;
}

uint32_t fmt_plan_image(const struct create_config *cfg, uint64_t virtual_size, struct fmt_scratch scratch,
			const struct fmt_sink *sink, const struct fmt_source *backing, struct plan_result *res)
{
	if (!cfg || !sink || !res)
		return CREATE_ERR_BAD_CONFIG;
	const struct fmt_driver *d = fmt_driver(cfg->target_format);
	if (!d || !d->plan)
		return CREATE_ERR_UNSUPPORTED_FORMAT;
	if (cfg->image_name_len > CREATE_CONFIG_MAX_IMAGE_NAME)
		return CREATE_ERR_BAD_CONFIG;
	if (!scratch.buf || scratch.size < d->min_scratch)
		return CREATE_ERR_SCRATCH_TOO_SMALL;
	struct fmt_plan p = {cfg, virtual_size, scratch, sink, backing, cfg->image_name, cfg->image_name_len};
	return d->plan(&p, res);
}

int fmt_put(const struct fmt_out *w, uint32_t output, uint64_t off, const void *buf, uint32_t len)
{
	if (w->sink->write(w->sink->ctx, output, off, buf, len) != 0)
		return -1;
	w->res->bytes_written += len;
	return 0;
}
