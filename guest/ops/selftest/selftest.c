/*
 * The self-test operation behind `instar doctor`: it calls every call-table
 * entry once, so one run proves the whole host/guest path works.
 *
 * Input device 0 holds a pattern. The guest reads it (first sector by
 * sector, then in bulk), writes it XORed with SELFTEST_XOR to output 0
 * (first sector by sector, then in bulk), and reports the input's FNV-1a
 * checksum in a log line. The host checks the output and the checksum.
 */
#include "instar/op.h"

#define SELFTEST_XOR 0x5A
#define BUF ((uint8_t *)(uintptr_t)SCRATCH_MEM_BASE)

static uint64_t fnv1a(const uint8_t *p, uint64_t n, uint64_t h)
{
	for (uint64_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void hex64(char *out, uint64_t v)
{
	for (int i = 15; i >= 0; i--) {
		out[i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	}
	out[16] = '\0';
}

static void fail(const struct call_table *ct, const char *why)
{
	ct->send_error(1, why);
	ct->send_complete("selftest", 0, 0);
}

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	if (ct->magic != CALL_TABLE_MAGIC || ct->get_input_device_count() != 1 ||
	    ct->get_output_device_count() != 1) {
		fail(ct, "selftest: expected one input and one output");
		return;
	}
	uint32_t iss = ct->get_input_sector_size(0);
	uint32_t oss = ct->get_output_sector_size();
	uint64_t size = ct->get_input_capacity(0) * iss;
	if (iss == 0 || oss != iss || size < iss || size > MAX_TRANSFER ||
	    ct->get_output_limit(0) < size) {
		fail(ct, "selftest: device geometry is not what the host set up");
		return;
	}
	if (ct->read_input_sector(0, 0, BUF) != STATUS_OK ||
	    ct->read_input(0, iss, BUF + iss, (uint32_t)(size - iss)) != STATUS_OK) {
		fail(ct, "selftest: read failed");
		return;
	}
	char line[32] = "fnv1a=";
	hex64(line + 6, fnv1a(BUF, size, 0xcbf29ce484222325ULL));
	ct->debug_print(line);

	for (uint64_t i = 0; i < size; i++)
		BUF[i] ^= SELFTEST_XOR;
	ct->send_progress(0, size);
	if (ct->write_output_sector(0, BUF) != STATUS_OK ||
	    ct->write_output(0, iss, BUF + iss, (uint32_t)(size - iss)) != STATUS_OK) {
		fail(ct, "selftest: write failed");
		return;
	}
	ct->send_progress(size, size);

	struct create_result r = {
		.magic = CREATE_RESULT_MAGIC,
		.target_format = FORMAT_RAW,
		.resolved_virtual_size = size,
		.metadata_bytes_written = size,
		.file_size_after = size,
		.resolved_unit_size = iss,
		.error = CREATE_ERR_OK,
	};
	ct->send_complete_create("selftest", size, 1, &r);
}
