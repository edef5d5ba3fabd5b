/*
 * The recognisers' list: formats inspect names and checks that no driver
 * reads. Each recogniser lives in its own file (recognise_<what>.c).
 */
#include "inspect.h"

static const struct fmt_recogniser *const recognisers[] = {
	NULL,
};

uint32_t fmt_recogniser_count(void)
{
	return 0;
}

const struct fmt_recogniser *fmt_recogniser_at(uint32_t i)
{
	return i < fmt_recogniser_count() ? recognisers[i] : NULL;
}
