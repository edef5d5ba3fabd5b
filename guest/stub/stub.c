/*
 * The process accelerator's stub: see stub.h. Freestanding, no libc; every
 * system call is made directly. Any failure before the handoff exits with
 * the step's STUB_EXIT_* code, which the VMM reports.
 */
#include <stdint.h>

#include "stub.h"

/* x86-64 Linux system call numbers and constants the stub uses. */
enum {
	SYS_MMAP = 9,
	SYS_MUNMAP = 11,
	SYS_CLOSE = 3,
	SYS_PRCTL = 157,
	SYS_SETRLIMIT = 160,
	SYS_GETRLIMIT = 97,
	SYS_EXIT_GROUP = 231,
	SYS_CLOSE_RANGE = 436,
};

#define PROT_READ 0x1
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define MAP_SHARED 0x01
#define MAP_FIXED_NOREPLACE 0x100000
#define PR_SET_NO_NEW_PRIVS 38
#define PR_SET_SECCOMP 22
#define SECCOMP_MODE_STRICT 1
#define RLIMIT_FSIZE 1
#define RLIMIT_CORE 4
#define RLIMIT_NPROC 6
#define RLIMIT_NOFILE 7
#define RLIMIT_MEMLOCK 8
#define ENOSYS 38
#define PAGE_SIZE 4096ULL

/* Upper bound on the fallback close loop (kernels before 5.9 lack
 * close_range); RLIMIT_NOFILE bounds it further. */
#define CLOSE_LOOP_MAX (1ULL << 20)

struct rlimit {
	uint64_t cur, max;
};

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static long sys3(long n, long a, long b, long c)
{
	return sys6(n, a, b, c, 0, 0, 0);
}

static void __attribute__((noreturn)) fail(int code)
{
	for (;;)
		sys3(SYS_EXIT_GROUP, code, 0, 0);
}

void stub_main(const uint64_t *sp) __attribute__((noreturn));
void stub_enter(uint64_t entry, uint64_t stack_top) __attribute__((noreturn));

/* parse_u64 parses a non-empty decimal number without overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0;
	if (!s)
		return -1;
	for (; s[n] != '\0'; n++) {
		if (n >= 20 || s[n] < '0' || s[n] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[n] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (n == 0)
		return -1;
	*out = v;
	return 0;
}

static int page_aligned(uint64_t v)
{
	return (v & (PAGE_SIZE - 1)) == 0;
}

static void close_all_fds(void)
{
	long r = sys3(SYS_CLOSE_RANGE, 0, ~0U, 0);
	if (r == 0)
		return;
	if (r != -ENOSYS)
		fail(STUB_EXIT_CLOSE);
	struct rlimit rl;
	if (sys3(SYS_GETRLIMIT, RLIMIT_NOFILE, (long)&rl, 0) != 0)
		fail(STUB_EXIT_CLOSE);
	uint64_t max = rl.cur < CLOSE_LOOP_MAX ? rl.cur : CLOSE_LOOP_MAX;
	for (uint64_t fd = 0; fd < max; fd++)
		sys3(SYS_CLOSE, (long)fd, 0, 0);
}

static void set_rlimits(void)
{
	/* No files, no processes, no core dumps of guest memory, no locked
	 * memory: seccomp already forbids all of it; this is the second wall. */
	static const int res[] = {RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_CORE, RLIMIT_FSIZE, RLIMIT_MEMLOCK};
	const struct rlimit zero = {0, 0};
	for (unsigned i = 0; i < sizeof res / sizeof res[0]; i++)
		if (sys3(SYS_SETRLIMIT, res[i], (long)&zero, 0) != 0)
			fail(STUB_EXIT_RLIMIT);
}

void stub_main(const uint64_t *sp)
{
	/* argv[0] fd ram_size entry stack_top, then pairs. */
	uint64_t argc = sp[0];
	char *const *argv = (char *const *)(sp + 1);
	if (argc < 5 || argc > 5 + 2 * STUB_MAX_RANGES || (argc - 5) % 2 != 0)
		fail(STUB_EXIT_USAGE);
	uint64_t num[4 + 2 * STUB_MAX_RANGES];
	uint64_t nnum = argc - 1;
	for (uint64_t i = 0; i < nnum; i++)
		if (parse_u64(argv[i + 1], &num[i]) != 0)
			fail(STUB_EXIT_NUMBER);
	uint64_t fd = num[0], ram = num[1], entry = num[2], stack_top = num[3];
	uint64_t nranges = (nnum - 4) / 2;
	const uint64_t *ranges = num + 4;

	if (fd > 0x7fffffff || ram <= STUB_GUEST_BASE || ram > STUB_MAX_RAM || !page_aligned(ram) ||
	    entry < STUB_GUEST_BASE || entry >= ram || stack_top <= STUB_GUEST_BASE || stack_top > ram)
		fail(STUB_EXIT_CONFIG);
	for (uint64_t i = 0; i < nranges; i++) {
		uint64_t s = ranges[2 * i], e = ranges[2 * i + 1];
		if (s >= e || e > ram || !page_aligned(s) || !page_aligned(e))
			fail(STUB_EXIT_CONFIG);
	}

	/* Guest address a is stub address a: map RAM from STUB_GUEST_BASE up
	 * (offset STUB_GUEST_BASE of the memfd). NOREPLACE: never clobber one
	 * of the stub's own mappings. */
	long want = (long)STUB_GUEST_BASE;
	long got = sys6(SYS_MMAP, want, (long)(ram - STUB_GUEST_BASE), PROT_READ | PROT_WRITE | PROT_EXEC,
			MAP_SHARED | MAP_FIXED_NOREPLACE, (long)fd, want);
	if (got != want)
		fail(STUB_EXIT_MMAP);

	for (uint64_t i = 0; i < nranges; i++) {
		uint64_t s = ranges[2 * i], e = ranges[2 * i + 1];
		if (s < STUB_GUEST_BASE)
			s = STUB_GUEST_BASE; /* below it nothing is mapped */
		if (s < e && sys3(SYS_MUNMAP, (long)s, (long)(e - s), 0) != 0)
			fail(STUB_EXIT_UNMAP);
	}

	close_all_fds();
	if (sys6(SYS_PRCTL, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0) != 0)
		fail(STUB_EXIT_NNP);
	set_rlimits();
	if (sys6(SYS_PRCTL, PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0, 0) != 0)
		fail(STUB_EXIT_SECCOMP);
	stub_enter(entry, stack_top);
}
