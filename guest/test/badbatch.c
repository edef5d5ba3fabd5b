/*
 * Makes good and hostile write batches, then completes. Each case logs
 * "<name>=<batch status>[,<entry status>...]" for the host to check: a
 * refused batch must make none of its writes, and a good one all of them.
 * The good writes carry 0xEE, the ones that must not be made 0x77.
 */
#include "hostile.h"

#define DATA_GOOD (SCRATCH_MEM_BASE)
#define DATA_BAD (SCRATCH_MEM_BASE + 0x1000)
#define ENTRIES ((struct request *)(uintptr_t)(SCRATCH_MEM_BASE + 0x10000))

static uint32_t put_int(char *line, uint32_t n, int32_t v)
{
	if (v < 0) {
		line[n++] = '-';
		v = -v;
	}
	char digits[12];
	int d = 0;
	do {
		digits[d++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && d < 11);
	while (d > 0)
		line[n++] = digits[--d];
	return n;
}

/* batch sends count entries at addr and logs the batch's status and the
 * first shown entries' statuses. */
static void batch(const struct call_table *ct, const char *name, uint64_t addr, uint64_t count, uint32_t shown)
{
	struct request b = {.op = REQ_BATCH, .length = count, .buffer = addr};
	int32_t status = raw_request(&b);
	char line[256];
	uint32_t n = 0;
	while (*name && n < 40)
		line[n++] = *name++;
	line[n++] = '=';
	n = put_int(line, n, status);
	for (uint32_t i = 0; i < shown && n < 200; i++) {
		line[n++] = ',';
		n = put_int(line, n, ENTRIES[i].status);
	}
	line[n] = '\0';
	ct->debug_print(line);
}

static struct request wr(uint32_t device, uint64_t offset, uint64_t len, uint64_t buf)
{
	return (struct request){.op = REQ_WRITE, .device = device, .offset = offset, .length = len, .buffer = buf,
				.status = STATUS_PENDING};
}

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	uint64_t limit = ct->get_output_limit(0);
	struct request *e = ENTRIES;
	for (uint32_t i = 0; i < 4096; i++) {
		((uint8_t *)(uintptr_t)DATA_GOOD)[i] = 0xEE;
		((uint8_t *)(uintptr_t)DATA_BAD)[i] = 0x77;
	}

	e[0] = wr(0, 0, 512, DATA_GOOD);
	e[1] = wr(0, 4096, 512, DATA_GOOD);
	e[2] = wr(0, limit - 512, 512, DATA_GOOD);
	batch(ct, "good", (uint64_t)(uintptr_t)e, 3, 3);

	e[0] = wr(0, 1024, 512, DATA_BAD);
	e[1] = wr(0, limit - 1, 2, DATA_BAD);
	e[2] = wr(0, 2048, 512, DATA_BAD);
	batch(ct, "bad-middle", (uint64_t)(uintptr_t)e, 3, 3);

	e[0] = wr(0, 1024, 512, DATA_BAD);
	e[1] = wr(0, UINT64_MAX - 1, 4, DATA_BAD);
	e[2] = wr(0, 2048, 512, 0x1000); /* the page tables */
	e[3] = wr(0, 2048, 16, GUEST_RAM_SIZE - 8);
	e[4] = wr(1, 2048, 16, DATA_BAD);
	e[5] = wr(0, 2048, MAX_TRANSFER + 1, DATA_BAD);
	batch(ct, "bad-entries", (uint64_t)(uintptr_t)e, 6, 6);

	e[0] = wr(0, 1024, 512, DATA_BAD);
	e[1] = wr(0, 1024, 512, DATA_BAD);
	e[1].op = REQ_READ;
	e[2] = wr(0, 1024, 512, DATA_BAD);
	e[2].op = REQ_BATCH;
	e[3] = wr(0, 1024, 512, DATA_BAD);
	e[3].op = REQ_MESSAGE;
	batch(ct, "bad-ops", (uint64_t)(uintptr_t)e, 4, 4);

	for (uint32_t i = 0; i < 4; i++)
		e[i] = wr(0, 1024, 512, DATA_BAD);
	batch(ct, "too-many", (uint64_t)(uintptr_t)e, MAX_BATCH + 1, 1);
	batch(ct, "count-wraps", (uint64_t)(uintptr_t)e, UINT64_MAX, 1);
	batch(ct, "empty", (uint64_t)(uintptr_t)e, 0, 1);

	/* Each entry fits; together they move more than a batch may. */
	uint32_t over = MAX_BATCH_BYTES / 4096 + 1;
	for (uint32_t i = 0; i < over; i++)
		e[i] = wr(0, 0, 4096, DATA_BAD);
	batch(ct, "too-many-bytes", (uint64_t)(uintptr_t)e, over, 1);
	report(ct, "too-many-bytes-last", e[over - 1].status);

	uint8_t *junk = (uint8_t *)e;
	for (uint32_t i = 0; i < 4 * sizeof(struct request); i++)
		junk[i] = 0xFF;
	batch(ct, "garbage", (uint64_t)(uintptr_t)e, 4, 4);

	e[0] = wr(0, 1024, 512, DATA_BAD);
	batch(ct, "array-in-private", 0x1000, 2, 0);
	batch(ct, "array-past-ram", GUEST_RAM_SIZE - sizeof(struct request), 2, 0);
	batch(ct, "array-unaligned", (uint64_t)(uintptr_t)e + 4, 1, 0);
	struct request b = {.op = REQ_BATCH, .device = 1, .length = 1, .buffer = (uint64_t)(uintptr_t)e};
	report(ct, "batch-device", raw_request(&b));

	/* An entry that writes the entry array itself: the VMM writes the
	 * statuses only after the writes, so the file gets them pending. */
	e[0] = wr(0, 8192, 2 * sizeof(struct request), (uint64_t)(uintptr_t)e);
	e[1] = wr(0, 4096 + 512, 512, DATA_GOOD);
	batch(ct, "writes-itself", (uint64_t)(uintptr_t)e, 2, 2);

	ct->send_complete("badbatch", 0, 1);
}
