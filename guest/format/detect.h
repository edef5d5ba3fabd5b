/*
 * Backing files: which format a file is, decided the way qemu-img 7.2
 * probes (first 2048 bytes, highest score wins, raw otherwise), and the
 * dispatch to each format driver's header parser.
 *
 * Every parser has the same contract: read through src only, check every
 * length and offset before use, use at most scratch, and return
 * CREATE_ERR_OK (out filled), CREATE_ERR_BACKING_READ_FAILED (a read
 * failed), or CREATE_ERR_BACKING_PARSE (malformed), never touching memory
 * outside its buffers.
 */
#ifndef FORMAT_DETECT_H
#define FORMAT_DETECT_H

#include "format.h"
#include "instar/mem.h"

/* qemu's BLOCK_PROBE_BUF_SIZE: how much of the file probing looks at. */
#define DETECT_PROBE_SIZE 2048u
/* fmt_probe and fmt_detect need this much scratch for the probe buffer;
 * the format's parser then gets the whole scratch. */
#define DETECT_MIN_SCRATCH DETECT_PROBE_SIZE

/* Scores a driver's probe gives: a signature matched, or the fallback. */
#define PROBE_MATCH 100
#define PROBE_FALLBACK 1

/* Whether b[off..off+len) (within b[0..n)) holds s: for probes. */
static inline int probe_has(const uint8_t *b, uint32_t n, uint32_t off, const char *s, uint32_t len)
{
	return off <= n && len <= n - off && memcmp(b + off, s, len) == 0;
}

/*
 * Decides the format like qemu-img's probe: the driver whose probe scores
 * the first DETECT_PROBE_SIZE bytes highest (raw, the fallback, scores
 * lowest). Files another qemu driver would claim (qcow version 1, QED, VDI, Parallels, Bochs, cloop,
 * LUKS) give CREATE_ERR_BACKING_FORMAT: treating them as raw would get
 * their size wrong. *format is a FORMAT_*.
 */
uint32_t fmt_detect(const struct fmt_source *src, const struct fmt_scratch *scratch, uint32_t *format);

/* Why b[0..n), a file's first bytes, is a file qemu would open that
 * instar cannot read, naming its format; NULL when it is not one. */
const char *fmt_unreadable(const uint8_t *b, uint32_t n);

/* Parses src as format (FORMAT_*; -F given): CREATE_ERR_BACKING_FORMAT
 * for a format with no parser. */
uint32_t fmt_parse(uint32_t format, const struct fmt_source *src, const struct fmt_scratch *scratch,
		   struct backing_info *out);

/* fmt_detect, then fmt_parse with the detected format. */
uint32_t fmt_probe(const struct fmt_source *src, const struct fmt_scratch *scratch, struct backing_info *out);

#endif
