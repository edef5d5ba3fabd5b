/*
 * vpc's inspect entry point: a differencing disk names its parent. info
 * already refuses a block table that cannot map the virtual size.
 */
#include "inspect.h"

#include "endian.h"
#include "read_padded.h"
#include "vpc.h"
#include "vpc_internal.h"

#define VPC_DISK_DIFFERENCING 4u
/* The dynamic header's eight parent locators, 24 bytes each, whose
 * first field is the platform code (0: none). */
#define VPC_D_PARENT_LOCATORS 0x240u
#define VPC_PARENT_LOCATORS 8u

void vpc_inspect(const struct fmt_source *src, const struct fmt_scratch *scratch, const struct fmt_info *info,
		 struct inspect_report *r)
{
	(void)scratch;
	(void)info;
	uint8_t footer[VPC_FOOTER_SIZE];
	if (read_padded(src, 0, footer, VPC_FOOTER_SIZE) != 0)
		return;
	if (get_be32(footer + VPC_F_DISK_TYPE) == VPC_DISK_DIFFERENCING) {
		inspect_fail(r, INSPECT_CHECK_BACKING_FILE, "image is a differencing disk with a parent");
		return;
	}
	if (get_be32(footer + VPC_F_DISK_TYPE) == VPC_DISK_FIXED)
		return;
	uint8_t loc[VPC_PARENT_LOCATORS * 24];
	if (read_padded(src, get_be64(footer + VPC_F_DATA_OFFSET) + VPC_D_PARENT_LOCATORS, loc, sizeof loc) != 0)
		return;
	for (uint32_t i = 0; i < VPC_PARENT_LOCATORS; i++) {
		if (get_be32(loc + i * 24) != 0) {
			inspect_fail(r, INSPECT_CHECK_BACKING_FILE, "image has a parent locator");
			return;
		}
	}
}
