/*
 * The process accelerator's stub (vmm/process): the tiny program the VMM
 * runs, traced, as the guest's process. It maps guest RAM at the guest
 * addresses, drops every privilege, stops at an int3 so the VMM knows the
 * guest is about to start, and jumps to core.
 *
 * vmm/process mirrors every value below (a Go test checks they agree).
 *
 * argv: fd ram_size entry stack_top [range_start range_end]...
 * all decimal; fd is the guest RAM memfd, ranges are guest ranges to leave
 * unmapped (page-aligned, half-open).
 */
#ifndef STUB_H
#define STUB_H

/* Lowest guest address the stub maps; below it is the VMM-private region
 * (and, on most hosts, below vm.mmap_min_addr). */
#define STUB_GUEST_BASE 0x10000ULL

/* Largest guest RAM the stub accepts (it must stay far below the stub). */
#define STUB_MAX_RAM (1ULL << 40)

/* Most unmapped ranges on the command line. */
#define STUB_MAX_RANGES 16

/* RAX at the handoff int3: "guest about to start". */
#define STUB_READY_MAGIC 0x59444145525f5453ULL /* "ST_READY" */

/* Exit codes of a stub that fails before the handoff, one per step. */
#define STUB_EXIT_USAGE 101   /* wrong argument count */
#define STUB_EXIT_NUMBER 102  /* an argument is not a decimal number */
#define STUB_EXIT_CONFIG 103  /* the numbers are inconsistent */
#define STUB_EXIT_MMAP 104    /* mapping guest RAM failed */
#define STUB_EXIT_UNMAP 105   /* unmapping a range failed */
#define STUB_EXIT_CLOSE 106   /* closing the file descriptors failed */
#define STUB_EXIT_NNP 107     /* PR_SET_NO_NEW_PRIVS failed */
#define STUB_EXIT_RLIMIT 108  /* setrlimit failed */
#define STUB_EXIT_SECCOMP 109 /* entering seccomp strict mode failed */

#endif
