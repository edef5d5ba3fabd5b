package guestbuild

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"instar/tools/objcopy"
)

const guestDir = "../../guest"

func writeSource(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "op.c")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The caps are enforced by the build itself: an operation whose .bss takes
// it past 384 KiB fails to build, naming the binary, its size and the cap.
func TestBuildRefusesOversizedBinaries(t *testing.T) {
	cases := []struct {
		name string
		kind Kind
		bss  int
	}{
		{"big-op", Operation, 400 << 10},
		{"big-core", Core, 70 << 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := writeSource(t, `#include "instar/op.h"
static uint8_t big[`+strconv.Itoa(c.bss)+`];
OPERATION_ENTRY void _start(const struct call_table *ct) { big[0] = 1; ct->send_complete("x", big[1], 1); }
`)
			_, err := Build(guestDir, t.TempDir(), Binary{Name: c.name, Kind: c.kind, Sources: []string{src}})
			if !errors.Is(err, objcopy.ErrTooLarge) {
				t.Fatalf("Build = %v, want ErrTooLarge", err)
			}
			msg := err.Error()
			cap := strconv.FormatUint(c.kind.Limits().MaxSize, 10)
			if !strings.Contains(msg, c.name) || !strings.Contains(msg, cap) {
				t.Errorf("error %q does not name the binary and the cap %s", msg, cap)
			}
		})
	}
}

func TestBuildFitsAndLoadsAtItsAddress(t *testing.T) {
	for _, b := range Binaries {
		t.Run(b.Name, func(t *testing.T) {
			r, err := Build(guestDir, t.TempDir(), b)
			if err != nil {
				t.Fatal(err)
			}
			lim := b.Kind.Limits()
			if r.Image.LoadAddr != lim.Base || r.Image.Entry != lim.Base {
				t.Errorf("load %#x entry %#x, want both %#x", r.Image.LoadAddr, r.Image.Entry, lim.Base)
			}
			if r.Image.MemSize > lim.MaxSize || r.Image.MemSize < uint64(len(r.Image.Data)) {
				t.Errorf("in-memory size %d, file %d, cap %d", r.Image.MemSize, len(r.Image.Data), lim.MaxSize)
			}
		})
	}
}

func TestBuildReportsCompileErrors(t *testing.T) {
	src := writeSource(t, "int unused_and_wrong(void) { int x; return; }\n")
	_, err := Build(guestDir, t.TempDir(), Binary{Name: "broken", Kind: Operation, Sources: []string{src}})
	if err == nil || !strings.Contains(err.Error(), "compile guest binary broken") {
		t.Fatalf("Build = %v, want a compile error naming the binary", err)
	}
}
