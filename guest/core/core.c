/*
 * Core: owns the device driver and the message channel, publishes the call
 * table, runs the operation loaded at OPERATION_LOAD_ADDR, and halts.
 *
 * The call table's entries have no context argument, so
 * core keeps its one piece of state, the device driver, in core_dev below;
 * nothing else in core is global.
 */
#include "instar/calltable.h"
#include "dev.h"
#include "msg.h"
#include "portio.h"

static struct dev core_dev;

static uint32_t in_sector_size(uint32_t dev)
{
	const struct device_info *di = dev_input(&core_dev, dev);
	return di ? di->sector_size : 0;
}

static uint32_t out_sector_size(void)
{
	const struct device_info *di = dev_output(&core_dev, 0);
	return di ? di->sector_size : 0;
}

static int32_t ct_read_input_sector(uint32_t dev, uint64_t sector, void *buf)
{
	uint32_t ss = in_sector_size(dev);
	if (ss == 0 || sector > UINT64_MAX / ss)
		return STATUS_BAD_REQUEST;
	return dev_read(&core_dev, dev, sector * ss, buf, ss);
}

static int32_t ct_write_output_sector(uint64_t sector, const void *buf)
{
	uint32_t ss = out_sector_size();
	if (ss == 0 || sector > UINT64_MAX / ss)
		return STATUS_BAD_REQUEST;
	return dev_request(&core_dev, REQ_WRITE, 0, sector * ss, buf, ss);
}

static uint64_t ct_get_input_capacity(uint32_t dev)
{
	const struct device_info *di = dev_input(&core_dev, dev);
	return (di && di->sector_size) ? di->size / di->sector_size : 0;
}

static uint32_t ct_get_input_device_count(void)
{
	return dev_input_count(&core_dev);
}

static uint32_t ct_get_input_sector_size(uint32_t dev)
{
	return in_sector_size(dev);
}

static uint32_t ct_get_output_sector_size(void)
{
	return out_sector_size();
}

static void ct_send_progress(uint64_t done, uint64_t total)
{
	msg_progress(&core_dev, done, total);
}

static void ct_send_error(uint32_t code, const char *text)
{
	msg_error(&core_dev, code, text);
}

static void ct_send_complete(const char *op, uint64_t bytes_written, int success)
{
	msg_complete(&core_dev, op, bytes_written, success);
}

static void ct_debug_print(const char *text)
{
	msg_log(&core_dev, text);
}

static int32_t ct_read_input(uint32_t dev, uint64_t offset, void *buf, uint32_t len)
{
	return dev_read(&core_dev, dev, offset, buf, len);
}

static int32_t ct_write_output(uint32_t dev, uint64_t offset, const void *buf, uint32_t len)
{
	return dev_request(&core_dev, REQ_WRITE, dev, offset, buf, len);
}

static uint32_t ct_get_output_device_count(void)
{
	return dev_output_count(&core_dev);
}

static uint64_t ct_get_output_limit(uint32_t dev)
{
	const struct device_info *di = dev_output(&core_dev, dev);
	return di ? di->size : 0;
}

static uint64_t ct_get_input_size(uint32_t dev)
{
	const struct device_info *di = dev_input(&core_dev, dev);
	return di ? di->size : 0;
}

static void ct_send_output_size(uint32_t dev, uint64_t size)
{
	msg_output_size(&core_dev, dev, size);
}

static void ct_send_complete_create(const char *op, uint64_t bytes_written, int success,
				    const struct create_result *r)
{
	msg_complete_create(&core_dev, op, bytes_written, success, r);
}

static void ct_send_message(const void *msg, uint32_t len)
{
	dev_queue_message(&core_dev, msg, len);
}

static int32_t ct_write_output_batch(struct request *entries, uint32_t count)
{
	return dev_request(&core_dev, REQ_BATCH, 0, 0, entries, count);
}

void core_main(void);

void core_main(void)
{
	struct call_table *ct = (struct call_table *)(uintptr_t)CALL_TABLE_ADDR;

	dev_init(&core_dev);
	*ct = (struct call_table){
		.magic = CALL_TABLE_MAGIC,
		.version = CALL_TABLE_VERSION,
		.read_input_sector = ct_read_input_sector,
		.write_output_sector = ct_write_output_sector,
		.get_input_capacity = ct_get_input_capacity,
		.get_input_device_count = ct_get_input_device_count,
		.get_input_sector_size = ct_get_input_sector_size,
		.get_output_sector_size = ct_get_output_sector_size,
		.send_progress = ct_send_progress,
		.send_error = ct_send_error,
		.send_complete = ct_send_complete,
		.debug_print = ct_debug_print,
		.read_input = ct_read_input,
		.write_output = ct_write_output,
		.get_output_device_count = ct_get_output_device_count,
		.get_output_limit = ct_get_output_limit,
		.get_input_size = ct_get_input_size,
		.send_output_size = ct_send_output_size,
		.send_complete_create = ct_send_complete_create,
		.send_message = ct_send_message,
		.write_output_batch = ct_write_output_batch,
	};
	if (!core_dev.table) {
		msg_error(&core_dev, 0, "core: device table is invalid");
		halt_forever();
	}
	((operation_entry)(uintptr_t)OPERATION_LOAD_ADDR)(ct);
	dev_flush(&core_dev);
	halt_forever();
}
