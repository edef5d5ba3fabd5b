//go:build cgo && fuzzcover

package format

// C coverage for Go's fuzzer (build tag fuzzcover, with
// -fsanitize-coverage=trace-pc in CGO_CFLAGS: `mage fuzz` sets both; cgo
// does not allow the flag in a #cgo line). Go's fuzzing instruments Go
// code only; the format library is C. With the flag gcc calls
// __sanitizer_cov_trace_pc in
// every basic block of the C code, which records the edge it took (this
// block's address hashed with the last one's, as AFL does) in a map of
// covSlots bytes. After each call into C, coverFeed runs, for every slot
// hit, a Go statement of that slot's own (covHit, generated into
// cgo_cover_cases.go), so that the fuzzer sees C edges as Go coverage.

/*
#include <stdint.h>

#define COV_SLOTS 2048u

uint8_t instar_cov_map[COV_SLOTS];
static uintptr_t instar_cov_prev;

__attribute__((no_sanitize_coverage)) void __sanitizer_cov_trace_pc(void)
{
	uintptr_t pc = (uintptr_t)__builtin_return_address(0);
	instar_cov_map[(pc ^ instar_cov_prev) % COV_SLOTS] = 1;
	instar_cov_prev = pc >> 1;
}
*/
import "C"

import "unsafe"

const covSlots = 2048

// covCount is what covHit's statements count.
var covCount [covSlots]uint64

// coverFeed turns the C edges hit since the last call into Go coverage.
func coverFeed() {
	m := (*[covSlots]byte)(unsafe.Pointer(&C.instar_cov_map[0]))
	for i, v := range m {
		if v != 0 {
			covHit(i)
			m[i] = 0
		}
	}
}
