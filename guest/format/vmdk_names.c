/* Extent file names, as qemu-img derives them from the image's base name:
 * split at the last '.', insert "-flat", "-sNNN" or "-fNNN" before it
 * ("disk.vmdk" -> "disk-s001.vmdk", "disk" -> "disk-f001", ".x" ->
 * "-f001.x"). */
#include "vmdk_internal.h"

void vmdk_extent_name(struct vmdk_text *t, const uint8_t *image_name, uint32_t len,
		      uint32_t subformat, uint32_t index)
{
	uint32_t dot = len;
	for (uint32_t i = 0; i < len; i++) {
		if (image_name[i] == '.')
			dot = i;
	}
	vmdk_text_bytes(t, image_name, dot);
	if (subformat == VMDK_MONOLITHIC_FLAT) {
		vmdk_text_str(t, "-flat");
	} else {
		uint8_t num[5] = { '-', subformat == VMDK_TWO_GB_MAX_EXTENT_SPARSE ? 's' : 'f', 0, 0, 0 };
		/* %03d: three digits at least; more never happen (at most 254). */
		num[2] = (uint8_t)('0' + index / 100 % 10);
		num[3] = (uint8_t)('0' + index / 10 % 10);
		num[4] = (uint8_t)('0' + index % 10);
		vmdk_text_bytes(t, num, 5);
	}
	vmdk_text_bytes(t, image_name + dot, len - dot);
}
