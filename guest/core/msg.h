/* The message channel: GuestMessages encoded with lib/pb and sent one per
 * ReqMessage request. */
#ifndef CORE_MSG_H
#define CORE_MSG_H

#include "dev.h"

void msg_progress(struct dev *d, uint64_t done, uint64_t total);
void msg_error(struct dev *d, uint32_t code, const char *text);
void msg_log(struct dev *d, const char *text);
void msg_complete(struct dev *d, const char *op, uint64_t bytes_written, int success);
void msg_complete_create(struct dev *d, const char *op, uint64_t bytes_written, int success,
			 const struct create_result *r);
void msg_output_size(struct dev *d, uint32_t output, uint64_t size);

#endif
