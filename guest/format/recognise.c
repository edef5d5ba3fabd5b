/*
 * The recognisers' list: formats inspect names and checks that no driver
 * reads. Each recogniser lives in its own file (recognise_<what>.c).
 */
#include "inspect.h"

extern const struct fmt_recogniser qcow_recogniser, qed_recogniser, vdi_recogniser, luks_recogniser,
	parallels_recogniser, bochs_recogniser, cloop_recogniser, dmg_recogniser, iso_recogniser, gpt_recogniser,
	gzip_recogniser, xz_recogniser, zstd_recogniser, bzip2_recogniser, tar_recogniser, ova_recogniser;

static const struct fmt_recogniser *const recognisers[] = {
	&qcow_recogniser,  &qed_recogniser,  &vdi_recogniser,	&luks_recogniser,  &parallels_recogniser,
	&bochs_recogniser, &cloop_recogniser, &dmg_recogniser,	&iso_recogniser,   &gpt_recogniser,
	&gzip_recogniser,  &xz_recogniser,    &zstd_recogniser, &bzip2_recogniser, &tar_recogniser,
	&ova_recogniser,
};

uint32_t fmt_recogniser_count(void)
{
	return (uint32_t)(sizeof recognisers / sizeof recognisers[0]);
}

const struct fmt_recogniser *fmt_recogniser_at(uint32_t i)
{
	return i < fmt_recogniser_count() ? recognisers[i] : NULL;
}
