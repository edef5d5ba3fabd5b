/*
 * VMDK: planner, backing-file parser and parent CID reader. Output matches
 * qemu-img 7.2's `create -f vmdk` byte for byte, apart from the
 * descriptor's CID, which comes from create_config.entropy.
 */
#ifndef FORMAT_VMDK_H
#define FORMAT_VMDK_H

#include <stdint.h>

#include "format.h"

/* Scratch the planner and parser need: the planner builds the descriptor
 * text (up to 254 extent lines with names of up to VMDK_MAX_NAME bytes) and
 * grain-directory chunks; the parser reads a descriptor as qemu does, up to
 * 1 MiB - 1 bytes, plus the 10 KiB it checks CIDs in. More scratch means
 * fewer, larger writes (up to MAX_TRANSFER). */
#define VMDK_MIN_SCRATCH (1024u * 1024 + 64u * 1024)

/* The longest image base name the planner takes (NAME_MAX). */
#define VMDK_MAX_NAME 255u

/* The planner (vmdk_driver.plan) honours the subformat
 * cfg->vmdk_subformat, cfg->vmdk_adapter_type, cfg->vmdk_hwversion
 * (0: "4", or "6" with FLAG_VMDK_COMPAT6), cfg->vmdk_toolsversion (written
 * as is), FLAG_VMDK_ZEROED_GRAIN, and cfg->backing_file as the parent,
 * whose CID it reads from the attached backing file (none: -u).
 *
 * The descriptor names its extents after the plan's image name as
 * qemu-img does ("disk.vmdk" -> "disk-flat.vmdk", "disk-s001.vmdk",
 * "disk-f001.vmdk").
 *
 * Outputs: monolithicSparse and streamOptimized use output 0 only. The
 * other subformats write the descriptor to output 0 and extent i to output
 * i (1-based, in descriptor order); res->file_size[i] is each one's final
 * length (the host truncates; flat extents get only their first 4 KiB
 * written, as zeros, like qemu's file driver does). */

/* Reports a VMDK backing file's virtual size as qemu-img info would, from a
 * sparse header (KDMV or COWD) or a text descriptor (the sum of its extent
 * lines; the extent files themselves are not opened). CREATE_ERR_OK or
 * CREATE_ERR_BACKING_PARSE. */
uint32_t vmdk_parse(const struct fmt_source *src, const struct fmt_scratch *scratch,
		    struct backing_info *out);

/* The driver's probe: "KDMV", "COWD" or a text descriptor. */
int vmdk_probe(const uint8_t *buf, uint32_t len);

#endif
