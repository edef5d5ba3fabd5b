/*
 * qcow2's inspect entry point: the safety checks beyond what info
 * refuses (info already refuses unknown versions and incompatible
 * features, reported as open and unknown_features, and an L1 table too
 * small for the virtual size).
 */
#include "inspect.h"
#include "qcow2.h"

/* qemu's path_has_protocol: a ':' before any '/'. */
int inspect_has_protocol(const struct info_name *n)
{
	for (uint32_t i = 0; i < n->len; i++) {
		if (n->bytes[i] == '/')
			return 0;
		if (n->bytes[i] == ':')
			return 1;
	}
	return 0;
}

void qcow2_inspect(const struct fmt_source *src, const struct fmt_scratch *scratch, const struct fmt_info *info,
		   struct inspect_report *r)
{
	(void)src;
	(void)scratch;
	if (info->backing.present) {
		inspect_fail(r, INSPECT_CHECK_BACKING_FILE, "image has a backing file");
		if (inspect_has_protocol(&info->backing))
			inspect_fail(r, INSPECT_CHECK_PROTOCOL, "backing file name has a protocol prefix");
	}
	if (info->qcow2_external_data || info->qcow2_data_file.present)
		inspect_fail(r, INSPECT_CHECK_DATA_FILE, "image keeps its data in an external data file");
	if (info->qcow2_data_file.present && !info->qcow2_external_data)
		inspect_fail(r, INSPECT_CHECK_DATA_FILE_EXTENSION,
			     "image has a data file extension without the data file feature bit");
	if (info->qcow2_external_data && !info->qcow2_data_file.present)
		inspect_fail(r, INSPECT_CHECK_DATA_FILE_EXTENSION,
			     "image has the data file feature bit without a data file extension");
	if (info->qcow2_data_file.present && inspect_has_protocol(&info->qcow2_data_file))
		inspect_fail(r, INSPECT_CHECK_PROTOCOL, "data file name has a protocol prefix");
}
