// Package guestbuild compiles the freestanding C guest binaries with the
// system gcc, turns each ELF into a flat image with tools/objcopy, and
// enforces the size caps of the memory map.
package guestbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"instar/shared"
	"instar/tools/objcopy"
)

// Kind says where a binary loads and which cap applies.
type Kind int

// Binary kinds.
const (
	// Core loads at CoreLoadAddr, capped at CoreMaxSize.
	Core Kind = iota
	// Operation loads at OperationLoadAddr, capped at OperationMaxSize.
	Operation
)

// Limits returns the load address and cap for the kind.
func (k Kind) Limits() objcopy.Limits {
	if k == Core {
		return objcopy.Limits{Base: shared.CoreLoadAddr, MaxSize: shared.CoreMaxSize}
	}
	return objcopy.Limits{Base: shared.OperationLoadAddr, MaxSize: shared.OperationMaxSize}
}

// Binary is one guest binary and the sources it is built from, relative to
// the guest directory unless absolute.
type Binary struct {
	Name    string
	Kind    Kind
	Sources []string
	// TestOnly binaries are built for tests and never embedded in instar.
	TestOnly bool
	// WithFormat links the format library (every guest/format/*.c).
	WithFormat bool
}

// lib is linked into every binary (each one is self-contained): the
// memory routines gcc may call.
var lib = []string{"lib/mem.c"}

// Binaries lists every guest binary the build makes.
var Binaries = []Binary{
	{Name: "core", Kind: Core, Sources: []string{"core/entry/entry.S", "core/core.c", "core/dev.c", "core/msg.c", "core/msgenc.c", "core/pb.c"}},
	{Name: "selftest", Kind: Operation, Sources: []string{"ops/selftest/selftest.c"}},
	{Name: "create", Kind: Operation, Sources: []string{"ops/create/create.c"}, WithFormat: true},
	{Name: "info", Kind: Operation, Sources: []string{"ops/info/info.c", "ops/info/enc/infoenc.c", "core/pb.c"}, WithFormat: true},
	{Name: "inspect", Kind: Operation, Sources: []string{"ops/inspect/inspect.c", "ops/inspect/enc/inspectenc.c", "core/pb.c"}, WithFormat: true},
}

// hostile lists the misbehaving guests the VMM tests use: each is an
// operation built from guest/test/<name>.c.
var hostile = []string{"spin", "flood", "msgflood", "fault", "private", "bigmsg", "garbage", "badport", "baddesc", "early", "outofrange", "badbatch", "badmsgs"}

func init() {
	for _, name := range hostile {
		Binaries = append(Binaries, Binary{Name: "test-" + name, Kind: Operation,
			Sources: []string{"test/" + name + ".c"}, TestOnly: true})
	}
}

// freestandingCFlags are the flags of every freestanding program built
// here: the guest binaries and the stub. No SSE (-mgeneral-regs-only): the
// VMM does not enable it, and nothing needs floating point. -fno-builtin
// and -fno-tree-loop-distribute-patterns stop gcc from turning lib/mem.c's
// loops into calls to themselves.
var freestandingCFlags = []string{
	"-std=c11", "-Os", "-ffreestanding", "-nostdlib", "-static",
	"-fno-pic", "-fno-pie", "-no-pie", "-mgeneral-regs-only",
	"-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-fcf-protection=none",
	"-fno-builtin", "-fno-tree-loop-distribute-patterns",
	"-Wall", "-Wextra", "-Werror",
}

// CFlags are the flags every guest source is compiled with.
var CFlags = append(append([]string{}, freestandingCFlags...), "-mno-red-zone")

// LDFlags are the link flags; LOAD_ADDR is added per binary.
var LDFlags = []string{
	"-Wl,--build-id=none", "-Wl,-z,max-page-size=4096", "-Wl,-z,noexecstack",
	"-Wl,--no-warn-rwx-segments",
}

// Result is a built binary.
type Result struct {
	Binary Binary
	ELF    string // path of the linked ELF
	Bin    string // path of the flat image
	Image  *objcopy.Image
}

// Build compiles and links b from guestDir into outDir, converts it to a
// flat image, and checks it against its kind's cap.
func Build(guestDir, outDir string, b Binary) (*Result, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", outDir, err)
	}
	lim := b.Kind.Limits()
	elfPath := filepath.Join(outDir, b.Name+".elf")
	args := append([]string{}, CFlags...)
	args = append(args, "-I", filepath.Join(guestDir, "include"), "-I", filepath.Join(guestDir, "format"),
		"-I", filepath.Join(guestDir, "core"))
	args = append(args, LDFlags...)
	args = append(args,
		"-Wl,-T,"+filepath.Join(guestDir, "guest.ld"),
		fmt.Sprintf("-Wl,--defsym=LOAD_ADDR=%#x", lim.Base),
		"-o", elfPath)
	sources := append(append([]string{}, b.Sources...), lib...)
	if b.WithFormat {
		format, err := filepath.Glob(filepath.Join(guestDir, "format", "*.c"))
		if err != nil || len(format) == 0 {
			return nil, fmt.Errorf("guest binary %s: no format library sources in %s/format", b.Name, guestDir)
		}
		for _, f := range format {
			abs, err := filepath.Abs(f)
			if err != nil {
				return nil, err
			}
			sources = append(sources, abs)
		}
	}
	for _, s := range sources {
		if !filepath.IsAbs(s) {
			s = filepath.Join(guestDir, s)
		}
		args = append(args, s)
	}
	cmd := exec.Command("gcc", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compile guest binary %s: %w\n%s", b.Name, err, strings.TrimSpace(string(out)))
	}
	img, err := objcopy.ConvertFile(elfPath, lim)
	if err != nil {
		return nil, fmt.Errorf("guest binary %s: %w", b.Name, err)
	}
	binPath := filepath.Join(outDir, b.Name+".bin")
	if err := os.WriteFile(binPath, img.Data, 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", binPath, err)
	}
	return &Result{Binary: b, ELF: elfPath, Bin: binPath, Image: img}, nil
}
