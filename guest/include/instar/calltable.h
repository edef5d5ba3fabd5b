/*
 * The call table: the only way an operation binary reaches the host. Core
 * fills it at CALL_TABLE_ADDR before calling the operation's _start. Core
 * and the operations are built and embedded together; the version changes
 * whenever the layout does.
 */
#ifndef INSTAR_CALLTABLE_H
#define INSTAR_CALLTABLE_H

#include "instar/shared.h"

#define CALL_TABLE_VERSION 5

struct call_table {
	uint32_t magic; /* CALL_TABLE_MAGIC once core has filled it */
	uint32_t version;

	/* Sector-addressed transfers (sector numbers in the device's own
	 * sector size) and the devices' geometry. Transfers return 0 or a
	 * negative STATUS_* value. */
	int32_t (*read_input_sector)(uint32_t dev, uint64_t sector, void *buf);
	int32_t (*write_output_sector)(uint64_t sector, const void *buf);
	uint64_t (*get_input_capacity)(uint32_t dev); /* in sectors */
	uint32_t (*get_input_device_count)(void);
	uint32_t (*get_input_sector_size)(uint32_t dev);
	uint32_t (*get_output_sector_size)(void);
	void (*send_progress)(uint64_t done, uint64_t total);
	void (*send_error)(uint32_t code, const char *msg);
	void (*send_complete)(const char *op, uint64_t bytes_written, int success);
	void (*debug_print)(const char *msg);

	/* Byte-addressed transfers of up to MAX_TRANSFER bytes, and the
	 * output devices a multi-file format writes. */
	int32_t (*read_input)(uint32_t dev, uint64_t offset, void *buf, uint32_t len);
	int32_t (*write_output)(uint32_t dev, uint64_t offset, const void *buf, uint32_t len);
	uint32_t (*get_output_device_count)(void);
	uint64_t (*get_output_limit)(uint32_t dev); /* in bytes */
	uint64_t (*get_input_size)(uint32_t dev);   /* in bytes */
	/* The final length of output dev (1..): multi-file formats. */
	void (*send_output_size)(uint32_t dev, uint64_t size);

	/* send_complete with the create result as the completion's result:
	 * one message, and so one exit, for both. */
	void (*send_complete_create)(const char *op, uint64_t bytes_written, int success,
				     const struct create_result *result);

	/* Sends len bytes, one GuestMessage the operation encoded itself
	 * (with core's encoder, pb.c): an operation's own messages and its
	 * completion. Core queues them and hands them over together
	 * (REQ_MESSAGES) before its next request or when the operation
	 * returns, so msg may be reused at once. */
	void (*send_message)(const void *msg, uint32_t len);
	/* The count write requests at entries (1..MAX_BATCH, MAX_BATCH_BYTES
	 * in all) in one exit, in order: 0, or the first refused entry's
	 * status (then none was made; see REQ_BATCH). The host writes each
	 * entry's status. */
	int32_t (*write_output_batch)(struct request *entries, uint32_t count);
};

/* The operation's entry point, linked first at OPERATION_LOAD_ADDR. */
typedef void (*operation_entry)(const struct call_table *ct);

static inline const struct call_table *call_table(void)
{
	return (const struct call_table *)(uintptr_t)CALL_TABLE_ADDR;
}

#endif
