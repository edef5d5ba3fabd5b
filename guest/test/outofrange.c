/*
 * Makes every kind of out-of-bounds request, then completes. Each must be
 * refused with the right status, and nothing outside the device limits may
 * be read or written. It logs "<name>=<status>" for each, for the host to
 * check.
 */
#include "hostile.h"

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	uint8_t *buf = (uint8_t *)(uintptr_t)SCRATCH_MEM_BASE;
	uint64_t in_size = ct->get_input_capacity(0) * ct->get_input_sector_size(0);
	uint64_t out_limit = ct->get_output_limit(0);
	struct request r;

	for (uint32_t i = 0; i < 4096; i++)
		buf[i] = 0xEE;

	r = (struct request){.op = REQ_READ, .offset = in_size - 1, .length = 2, .buffer = SCRATCH_MEM_BASE};
	report(ct, "read-past-end", raw_request(&r));
	r = (struct request){.op = REQ_READ, .offset = UINT64_MAX - 1, .length = 4, .buffer = SCRATCH_MEM_BASE};
	report(ct, "read-offset-wraps", raw_request(&r));
	r = (struct request){.op = REQ_READ, .device = 5, .length = 1, .buffer = SCRATCH_MEM_BASE};
	report(ct, "read-no-device", raw_request(&r));
	r = (struct request){.op = REQ_READ, .length = 16, .buffer = 0x1000};
	report(ct, "read-into-page-tables", raw_request(&r));
	r = (struct request){.op = REQ_READ, .length = 16, .buffer = GUEST_RAM_SIZE - 8};
	report(ct, "read-past-ram", raw_request(&r));
	r = (struct request){.op = REQ_READ, .length = MAX_TRANSFER + 1, .buffer = SCRATCH_MEM_BASE};
	report(ct, "read-too-long", raw_request(&r));
	/* Through the call table a read within input 0's head is served in
	 * the guest; a buffer the host would refuse must still be refused. */
	report(ct, "head-read-into-page-tables", ct->read_input(0, 0, (void *)(uintptr_t)0x1000, 16));
	report(ct, "head-read-past-ram", ct->read_input(0, 0, (void *)(uintptr_t)(GUEST_RAM_SIZE - 8), 16));
	r = (struct request){.op = REQ_WRITE, .offset = out_limit - 1, .length = 2, .buffer = SCRATCH_MEM_BASE};
	report(ct, "write-past-limit", raw_request(&r));
	r = (struct request){.op = REQ_WRITE, .offset = out_limit, .length = 0, .buffer = SCRATCH_MEM_BASE};
	report(ct, "write-empty-at-limit", raw_request(&r));
	r = (struct request){.op = REQ_WRITE, .device = 1, .length = 1, .buffer = SCRATCH_MEM_BASE};
	report(ct, "write-no-device", raw_request(&r));
	r = (struct request){.op = 99, .length = 1, .buffer = SCRATCH_MEM_BASE};
	report(ct, "unknown-op", raw_request(&r));
	r = (struct request){.op = REQ_WRITE, .offset = out_limit - 4096, .length = 4096, .buffer = SCRATCH_MEM_BASE};
	report(ct, "write-last-page", raw_request(&r));
	ct->send_complete("outofrange", 4096, 1);
}
