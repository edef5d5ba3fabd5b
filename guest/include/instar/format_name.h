/* The qemu-img name of a FORMAT_* value, or NULL: one table for core's
 * messages and the qcow2 backing-format header extension. */
#ifndef INSTAR_FORMAT_NAME_H
#define INSTAR_FORMAT_NAME_H

#include "instar/shared.h"

static inline const char *format_name(uint32_t f)
{
	switch (f) {
	case FORMAT_RAW:
		return "raw";
	case FORMAT_QCOW2:
		return "qcow2";
	case FORMAT_VMDK:
		return "vmdk";
	case FORMAT_VPC:
		return "vpc";
	case FORMAT_VHDX:
		return "vhdx";
	}
	return 0;
}

#endif
