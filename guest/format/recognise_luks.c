/*
 * luks: recognised by its magic, refused unless it is version 1 (qemu
 * 7.2 and OpenStack's inspector read no other; qemu probes any other
 * version as raw), and refused with qemu 7.2's words where its
 * qcrypto_block_luks_check_header would refuse the header, in its order.
 * qemu reads the header's 592 bytes zero-padded past the end of the file.
 * The virtual size is qemu's: the file, in whole sectors, less the
 * payload offset. Then, as its parse_header does, the cipher, mode, IV
 * generator and hashes must be ones qemu 7.2 has (its tables; it has no
 * SM4).
 */
#include "endian.h"
#include "inspect.h"

#define LUKS_HEADER 592u
#define LUKS_CIPHER_NAME 8u
#define LUKS_CIPHER_MODE 40u
#define LUKS_HASH_SPEC 72u
#define LUKS_NAME_LEN 32u
#define LUKS_PAYLOAD_OFFSET 104u
#define LUKS_KEY_BYTES 108u
#define LUKS_MK_ITERATIONS 164u
#define LUKS_SLOTS 208u
#define LUKS_SLOT_SIZE 48u
#define LUKS_NUM_SLOTS 8u
#define LUKS_SLOT_ENABLED 0x00AC71F3u
#define LUKS_SLOT_DISABLED 0x0000DEADu
#define LUKS_STRIPES 4000u
/* The key slots start at 4096 bytes: 8 sectors of header. */
#define LUKS_HEADER_SECTORS 8u

static int luks_match(const struct inspect_input *in)
{
	static const uint8_t magic[6] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
	if (in->head_len < 8)
		return 0;
	for (int i = 0; i < 6; i++)
		if (in->head[i] != magic[i])
			return 0;
	return 1;
}

static int has_nul(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (p[i] == 0)
			return 1;
	return 0;
}

/* qemu's sectors of a slot's key material, in its C types: the product
 * of two uint32_t wraps at 32 bits before it is rounded. */
static uint32_t split_sectors(uint32_t key_bytes, uint32_t stripes)
{
	uint32_t bytes = key_bytes * stripes;
	uint64_t sectors = ((uint64_t)bytes + 511) / 512;
	return (uint32_t)((sectors + LUKS_HEADER_SECTORS - 1) / LUKS_HEADER_SECTORS * LUKS_HEADER_SECTORS);
}

/* qemu's ranges_overlap over uint64_t: last = first + len - 1. */
static int ranges_overlap(uint64_t first1, uint64_t len1, uint64_t first2, uint64_t len2)
{
	uint64_t last1 = first1 + len1 - 1, last2 = first2 + len2 - 1;
	return !(last2 < first1 || last1 < first2);
}

/* "Keyslot N<rest>", or "Keyslots N and M<rest>" when m is set. */
static void slot_fail(struct inspect_report *r, uint32_t i, int both, uint32_t j, const char *rest)
{
	struct inspect_reason w = {.n = 0};
	inspect_reason_add(&w, both ? "Keyslots " : "Keyslot ");
	inspect_reason_num(&w, i);
	if (both) {
		inspect_reason_add(&w, " and ");
		inspect_reason_num(&w, j);
	}
	inspect_reason_add(&w, rest);
	inspect_fail(r, INSPECT_CHECK_OPEN, w.b);
}

/* qemu's header checks; 0 when it passes them, else the failure is sent. */
static int luks_header_check(const uint8_t *h, struct inspect_report *r)
{
	static const struct {
		uint32_t off;
		const char *why;
	} names[] = {
		{LUKS_CIPHER_NAME, "LUKS header cipher name is not NUL terminated"},
		{LUKS_CIPHER_MODE, "LUKS header cipher mode is not NUL terminated"},
		{LUKS_HASH_SPEC, "LUKS header hash spec is not NUL terminated"},
	};
	for (uint32_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!has_nul(h + names[i].off, LUKS_NAME_LEN)) {
			inspect_fail(r, INSPECT_CHECK_OPEN, names[i].why);
			return -1;
		}
	}
	uint32_t payload = get_be32(h + LUKS_PAYLOAD_OFFSET), key_bytes = get_be32(h + LUKS_KEY_BYTES);
	if (payload < LUKS_HEADER_SECTORS) {
		inspect_fail(r, INSPECT_CHECK_OPEN, "LUKS payload is overlapping with the header");
		return -1;
	}
	if (get_be32(h + LUKS_MK_ITERATIONS) == 0) {
		inspect_fail(r, INSPECT_CHECK_OPEN, "LUKS key iteration count is zero");
		return -1;
	}
	for (uint32_t i = 0; i < LUKS_NUM_SLOTS; i++) {
		const uint8_t *s = h + LUKS_SLOTS + i * LUKS_SLOT_SIZE;
		uint32_t active = get_be32(s), iterations = get_be32(s + 4);
		uint32_t start = get_be32(s + 40), stripes = get_be32(s + 44);
		uint32_t len = split_sectors(key_bytes, stripes);
		if (stripes != LUKS_STRIPES) {
			struct inspect_reason w = {.n = 0};
			inspect_reason_add(&w, "Keyslot ");
			inspect_reason_num(&w, i);
			inspect_reason_add(&w, " is corrupted (stripes ");
			/* qemu prints it as a signed int. */
			if (stripes & 0x80000000u) {
				inspect_reason_add(&w, "-");
				inspect_reason_num(&w, (uint64_t)(0u - stripes));
			} else {
				inspect_reason_num(&w, stripes);
			}
			inspect_reason_add(&w, " != 4000)");
			inspect_fail(r, INSPECT_CHECK_OPEN, w.b);
			return -1;
		}
		if (active != LUKS_SLOT_DISABLED && active != LUKS_SLOT_ENABLED) {
			slot_fail(r, i, 0, 0, " state (active/disable) is corrupted");
			return -1;
		}
		if (active == LUKS_SLOT_ENABLED && iterations == 0) {
			slot_fail(r, i, 0, 0, " iteration count is zero");
			return -1;
		}
		if (start < LUKS_HEADER_SECTORS) {
			slot_fail(r, i, 0, 0, " is overlapping with the LUKS header");
			return -1;
		}
		/* unsigned int arithmetic in qemu: the sum wraps at 32 bits. */
		if ((uint32_t)(start + len) > payload) {
			slot_fail(r, i, 0, 0, " is overlapping with the encrypted payload");
			return -1;
		}
		for (uint32_t j = i + 1; j < LUKS_NUM_SLOTS; j++) {
			const uint8_t *t = h + LUKS_SLOTS + j * LUKS_SLOT_SIZE;
			uint32_t len2 = split_sectors(key_bytes, get_be32(t + 44));
			if (ranges_overlap(start, len, get_be32(t + 40), len2)) {
				slot_fail(r, i, 1, j, " are overlapping in the header");
				return -1;
			}
		}
	}
	return 0;
}

/* A NUL-terminated name in the header: n bytes, the NUL not counted. */
struct luks_name {
	const uint8_t *p;
	uint32_t n;
};

static int name_is(struct luks_name a, const char *s)
{
	uint32_t i = 0;
	for (; s[i] != 0; i++)
		if (i >= a.n || a.p[i] != (uint8_t)s[i])
			return 0;
	return i == a.n;
}

/* The index of a among names[0..count), or -1: qemu's enum lookups are
 * exact, case-sensitive matches. */
static int name_index(struct luks_name a, const char *const *names, int count)
{
	for (int i = 0; i < count; i++)
		if (name_is(a, names[i]))
			return i;
	return -1;
}

/* Appends the name's bytes (printable ones as they are). */
static void reason_name(struct inspect_reason *w, struct luks_name a)
{
	char b[LUKS_NAME_LEN];
	uint32_t n = a.n < LUKS_NAME_LEN - 1 ? a.n : LUKS_NAME_LEN - 1;
	for (uint32_t i = 0; i < n; i++)
		b[i] = (char)a.p[i];
	b[n] = 0;
	inspect_reason_add(w, b);
}

/* "<what> '<name>' not supported", qemu's words for an unknown name. */
static void fail_name(struct inspect_report *r, const char *what, struct luks_name a, const char *rest)
{
	struct inspect_reason w = {.n = 0};
	inspect_reason_add(&w, what);
	inspect_reason_add(&w, " '");
	reason_name(&w, a);
	inspect_reason_add(&w, "'");
	inspect_reason_add(&w, rest);
	inspect_fail(r, INSPECT_CHECK_OPEN, w.b);
}

static const char *const luks_hashes[] = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160"};
static const uint32_t luks_digest_len[] = {16, 20, 28, 32, 48, 64, 20};
static const char *const luks_modes[] = {"ecb", "cbc", "xts", "ctr"};
static const char *const luks_ivgens[] = {"plain", "plain64", "essiv"};
enum { LUKS_MODE_XTS = 2, LUKS_IVGEN_ESSIV = 2 };

/* The ciphers LUKS names, each with the key sizes qemu 7.2 takes, and
 * the words it uses when ESSIV needs another key size of the family (0:
 * the cipher has no ESSIV variant, and qemu names the cipher). */
static const struct {
	const char *name;
	uint32_t keys[3];
	const char *family;
	const char *enum_name[3];
} luks_ciphers[] = {
	{"aes", {16, 24, 32}, "AES", {"aes-128", "aes-192", "aes-256"}},
	{"cast5", {16, 0, 0}, 0, {"cast5-128", 0, 0}},
	{"serpent", {16, 24, 32}, "Serpent", {"serpent-128", "serpent-192", "serpent-256"}},
	{"twofish", {16, 24, 32}, "Twofish", {"twofish-128", "twofish-192", "twofish-256"}},
};

static struct luks_name header_name(const uint8_t *p, uint32_t from, uint32_t to)
{
	struct luks_name a = {p + from, 0};
	while (from + a.n < to && p[from + a.n] != 0)
		a.n++;
	return a;
}

/* qemu's parse_header on the names (every field has its NUL, checked
 * before): the cipher mode as <mode>-<ivgen>[:<ivhash>], each name known,
 * the key size one the cipher has, and an ESSIV hash whose digest is a
 * key size of the cipher's family. 0 when it passes. */
static int luks_names_check(const uint8_t *h, struct inspect_report *r)
{
	struct luks_name mode = header_name(h, LUKS_CIPHER_MODE, LUKS_CIPHER_MODE + LUKS_NAME_LEN);
	struct luks_name cipher = header_name(h, LUKS_CIPHER_NAME, LUKS_CIPHER_NAME + LUKS_NAME_LEN);
	struct luks_name hash = header_name(h, LUKS_HASH_SPEC, LUKS_HASH_SPEC + LUKS_NAME_LEN);
	uint32_t dash = 0;
	while (dash < mode.n && mode.p[dash] != '-')
		dash++;
	if (dash == mode.n) {
		fail_name(r, "Unexpected cipher mode string format", mode, "");
		return -1;
	}
	struct luks_name cmode = {mode.p, dash}, ivgen = {mode.p + dash + 1, mode.n - dash - 1};
	struct luks_name ivhash = {0, 0};
	int has_ivhash = 0, ivhash_alg = -1;
	for (uint32_t i = 0; i < ivgen.n; i++) {
		if (ivgen.p[i] == ':') {
			ivhash.p = ivgen.p + i + 1;
			ivhash.n = ivgen.n - i - 1;
			ivgen.n = i;
			has_ivhash = 1;
			break;
		}
	}
	if (has_ivhash) {
		ivhash_alg = name_index(ivhash, luks_hashes, 7);
		if (ivhash_alg < 0) {
			fail_name(r, "Hash algorithm", ivhash, " not supported");
			return -1;
		}
	}
	int m = name_index(cmode, luks_modes, 4);
	if (m < 0) {
		fail_name(r, "Cipher mode", cmode, " not supported");
		return -1;
	}
	uint32_t key = get_be32(h + LUKS_KEY_BYTES);
	if (m == LUKS_MODE_XTS)
		key /= 2;
	int c = -1, size = -1;
	for (uint32_t i = 0; c < 0 && i < sizeof luks_ciphers / sizeof luks_ciphers[0]; i++) {
		if (!name_is(cipher, luks_ciphers[i].name))
			continue;
		for (int k = 0; k < 3; k++)
			if (luks_ciphers[i].keys[k] != 0 && luks_ciphers[i].keys[k] == key) {
				c = (int)i;
				size = k;
			}
	}
	if (c < 0) {
		struct inspect_reason w = {.n = 0};
		inspect_reason_add(&w, "Algorithm '");
		reason_name(&w, cipher);
		inspect_reason_add(&w, "' with key size ");
		/* qemu prints it as a signed int. */
		if (key & 0x80000000u) {
			inspect_reason_add(&w, "-");
			inspect_reason_num(&w, (uint64_t)(0u - key));
		} else {
			inspect_reason_num(&w, key);
		}
		inspect_reason_add(&w, " bytes not supported");
		inspect_fail(r, INSPECT_CHECK_OPEN, w.b);
		return -1;
	}
	if (name_index(hash, luks_hashes, 7) < 0) {
		fail_name(r, "Hash algorithm", hash, " not supported");
		return -1;
	}
	int g = name_index(ivgen, luks_ivgens, 3);
	if (g < 0) {
		fail_name(r, "IV generator", ivgen, " not supported");
		return -1;
	}
	if (g != LUKS_IVGEN_ESSIV)
		return 0;
	if (!has_ivhash) {
		inspect_fail(r, INSPECT_CHECK_OPEN, "Missing IV generator hash specification");
		return -1;
	}
	/* ESSIV keys the IV cipher with the hash's digest: the cipher itself
	 * when the sizes agree, else the family member of that key size. */
	uint32_t digest = luks_digest_len[ivhash_alg];
	if (digest == luks_ciphers[c].keys[size])
		return 0;
	if (!luks_ciphers[c].family) {
		struct inspect_reason w = {.n = 0};
		inspect_reason_add(&w, "Cipher ");
		inspect_reason_add(&w, luks_ciphers[c].enum_name[size]);
		inspect_reason_add(&w, " not supported with essiv");
		inspect_fail(r, INSPECT_CHECK_OPEN, w.b);
		return -1;
	}
	for (int k = 0; k < 3; k++)
		if (luks_ciphers[c].keys[k] == digest)
			return 0;
	struct inspect_reason w = {.n = 0};
	inspect_reason_add(&w, "No ");
	inspect_reason_add(&w, luks_ciphers[c].family);
	inspect_reason_add(&w, " cipher with key size ");
	inspect_reason_num(&w, digest);
	inspect_reason_add(&w, " available");
	inspect_fail(r, INSPECT_CHECK_OPEN, w.b);
	return -1;
}

static void luks_check(const struct inspect_input *in, const struct fmt_scratch *scratch, struct inspect_report *r)
{
	(void)scratch;
	uint8_t h[LUKS_HEADER];
	uint32_t n = in->head_len < LUKS_HEADER ? in->head_len : LUKS_HEADER;
	for (uint32_t i = 0; i < LUKS_HEADER; i++)
		h[i] = i < n ? in->head[i] : 0;
	uint16_t v = get_be16(h + 6);
	if (v != 1) {
		struct inspect_reason w = {.n = 0};
		inspect_reason_add(&w, "LUKS version ");
		inspect_reason_num(&w, v);
		inspect_reason_add(&w, " is not supported");
		inspect_fail(r, INSPECT_CHECK_VERSION, w.b);
		return;
	}
	if (luks_header_check(h, r) != 0 || luks_names_check(h, r) != 0)
		return;
	/* A payload past the end of the file fails qemu's open. */
	uint64_t payload = get_be32(h + LUKS_PAYLOAD_OFFSET);
	uint64_t sectors = in->src->size / 512 + (in->src->size % 512 != 0);
	if (payload > sectors) {
		inspect_fail(r, INSPECT_CHECK_OPEN, "Could not refresh total sector count: Input/output error");
		return;
	}
	r->has_virtual_size = 1;
	r->virtual_size = (sectors - payload) * 512; /* sectors < 2^55 */
}

const struct fmt_recogniser luks_recogniser = {INSPECT_FMT_LUKS, luks_match, luks_check};
