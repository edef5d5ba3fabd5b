#include "entropy.h"

#include "endian.h"
#include "instar/mem.h"

void entropy_init(struct entropy_stream *s, const uint8_t seed[CREATE_ENTROPY_SIZE])
{
	memcpy(s->seed, seed, CREATE_ENTROPY_SIZE);
	s->counter = 0;
}

/* SplitMix64's finaliser: a bijection that spreads every input bit over the
 * whole word, so neighbouring counters give unrelated words. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Word k mixes two seed words and the counter, so all 256 seed bits reach
 * the stream and no word repeats within 2^64 words. */
static uint64_t next_word(struct entropy_stream *s)
{
	uint64_t k = s->counter++;
	uint64_t a = get_le64(s->seed + 8 * (k % 4));
	uint64_t b = get_le64(s->seed + 8 * ((k + 1) % 4));
	uint64_t rot = (b << 17) | (b >> 47);
	return mix64(a ^ rot ^ mix64((k + 1) * 0x9E3779B97F4A7C15ULL));
}

void entropy_bytes(struct entropy_stream *s, uint8_t *out, uint32_t n)
{
	while (n > 0) {
		uint8_t w[8];
		put_le64(w, next_word(s));
		uint32_t c = n < 8 ? n : 8;
		memcpy(out, w, c);
		out += c;
		n -= c;
	}
}
