//go:build mage

// The build of instar. A fresh clone runs it with no mage installed:
//
//	go run mage.go build   # bin/instar
//	go run mage.go check   # everything CI runs
//	go run mage.go dist    # the release: a tarball and a Debian package
//
// Each target first makes sure the programs it uses are there (package
// tools/prereq): as root with apt it installs what is missing, otherwise it
// stops at once with one line naming the install command.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"
	"github.com/magefile/mage/target"

	"instar/embed/bundle"
	"instar/embed/bundle/pack"
	"instar/tools/cheader"
	"instar/tools/fuzzrun"
	"instar/tools/guestbuild"
	"instar/tools/msggen"
	"instar/tools/prereq"
	"instar/tools/vmtest"
)

const (
	guestDir    = "guest"
	guestOut    = "build/guest"
	bundlePath  = "embed/bundled/guest.cpio"
	guestStamp  = "build/guest/stamp"
	headerPath  = "guest/include/instar/shared.h"
	protoPath   = "shared/guest.proto"
	instarBin   = "bin/instar"
	instarPkg   = "./cmd/instar"
	protoGenBin = "build/tools/protoc-gen-go"
	guestmsgGo  = "shared/guestmsg/guestmsg.go"
	manDir      = "build/man"
)

// guestSources are what the guest binaries are made from: the C sources, the
// Go that lays them out, builds, converts and packs them, and this file.
var guestSources = []string{guestDir, "shared", "tools/guestbuild", "tools/objcopy", "embed/bundle", "magefile.go"}

// needs lists, for each target that has its own, the tools it uses.
var needs = map[string][]prereq.Tool{
	"build":    {prereq.GCC},
	"generate": {prereq.Protoc},
	"test": {prereq.GCC, prereq.LibcDev, prereq.QemuImg, prereq.BashCompletion, prereq.XZ, prereq.Genisoimage,
		prereq.Xorriso, prereq.Sgdisk, prereq.Sfdisk, prereq.MkfsFat, prereq.Cryptsetup, prereq.Zstd, prereq.Bzip2},
	"sanitize": {prereq.GCC, prereq.LibcDev},
	"fuzz":     {prereq.GCC, prereq.LibcDev, prereq.QemuImg},
	"vmtest":   {prereq.QemuX86, prereq.XZ, prereq.DpkgDeb, prereq.AptCache, prereq.AptGet},
	"bench":    {prereq.QemuImg},
	"dist":     {prereq.DpkgDeb},
	"debcheck": {prereq.QemuImg},
}

// ensure makes sure what the named targets use is there, installing it as
// root with apt, or fails with one line that says how to install it.
func ensure(ctx context.Context, targets string) error {
	var need prereq.Need
	for _, t := range strings.Fields(targets) {
		need.Tools = append(need.Tools, needs[t]...)
		if t == "vmtest" {
			cache, err := vmtest.DefaultCacheDir()
			if err != nil {
				return err
			}
			if !vmtest.KernelAvailable(ctx, cache) {
				need.Lists = "apt knows no Debian 6.1 kernel package for vmtest"
			}
		}
	}
	return prereq.Ensure(ctx, need, os.Stdout)
}

// Generate writes the generated sources: the guest's C header from package
// shared, and the Go code for shared/guest.proto: the protobuf library's
// (shared/guestpb, the reference the tests decode with) and instar's own
// decoder (shared/guestmsg).
func Generate() error {
	mg.Deps(mg.F(ensure, "generate"))
	if _, err := cheader.Generate("shared", headerPath); err != nil {
		return err
	}
	if err := protoc("."); err != nil {
		return err
	}
	return msggen.Generate(protoPath, guestmsgGo)
}

// protoc generates the protobuf Go code under outDir (the repository root
// for the real thing, a temporary directory for the staleness check).
func protoc(outDir string) error {
	if err := sh.RunV("go", "build", "-o", protoGenBin, "google.golang.org/protobuf/cmd/protoc-gen-go"); err != nil {
		return err
	}
	plugin, err := filepath.Abs(protoGenBin)
	if err != nil {
		return err
	}
	return sh.RunV("protoc", "--plugin=protoc-gen-go="+plugin,
		"--go_out="+outDir, "--go_opt=module=instar", protoPath)
}

// Generated fails when a generated file is not what `mage generate` writes.
func Generated() error {
	mg.Deps(mg.F(ensure, "generate"))
	stale, err := cheader.Stale("shared", headerPath)
	if err != nil {
		return err
	}
	if stale {
		return fmt.Errorf("%s is stale: run `go run mage.go generate`", headerPath)
	}
	tmp, err := os.MkdirTemp("", "instar-gen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := protoc(tmp); err != nil {
		return err
	}
	const pb = "shared/guestpb/guest.pb.go"
	want, err := os.ReadFile(filepath.Join(tmp, pb))
	if err != nil {
		return err
	}
	have, err := os.ReadFile(pb)
	if err != nil || !bytes.Equal(want, have) {
		return fmt.Errorf("%s is stale: run `go run mage.go generate`", pb)
	}
	if stale, err := msggen.Stale(protoPath, guestmsgGo); err != nil || stale {
		return fmt.Errorf("%s is stale (%v): run `go run mage.go generate`", guestmsgGo, err)
	}
	return nil
}

// Guest builds the guest binaries (build/guest/) and packs the embedded
// ones into embed/bundled/guest.cpio, enforcing the size caps. It does
// nothing when no guest source changed since the last build.
func Guest() error {
	mg.Deps(mg.F(ensure, "build"))
	if _, err := os.Stat(bundlePath); err == nil {
		stale, err := target.Dir(guestStamp, guestSources...)
		if err != nil {
			return err
		}
		if !stale {
			if mg.Verbose() {
				fmt.Println("guest: up to date")
			}
			return nil
		}
	}
	var bins []bundle.Binary
	for _, b := range guestbuild.Binaries {
		r, err := guestbuild.Build(guestDir, guestOut, b)
		if err != nil {
			return err
		}
		fmt.Printf("guest %-10s %6d bytes in memory (cap %d)\n", b.Name, r.Image.MemSize, b.Kind.Limits().MaxSize)
		if b.TestOnly {
			continue
		}
		bins = append(bins, bundle.Binary{
			Entry: bundle.Entry{Name: b.Name, LoadAddr: r.Image.LoadAddr, MemSize: r.Image.MemSize},
			Data:  r.Image.Data,
		})
	}
	// The process accelerator's stub (vmm/process): an ELF the VMM
	// executes, not a guest image; LoadAddr records its entry.
	stub, err := guestbuild.BuildStub(guestDir, guestOut)
	if err != nil {
		return err
	}
	fmt.Printf("guest %-10s %6d bytes ELF (cap %d)\n", guestbuild.StubName, len(stub.Data), guestbuild.StubMaxSize)
	bins = append(bins, bundle.Binary{
		Entry: bundle.Entry{Name: guestbuild.StubName, LoadAddr: stub.LoadAddr, MemSize: uint64(len(stub.Data))},
		Data:  stub.Data,
	})
	// End of the process stub.
	var buf bytes.Buffer
	if err := pack.Write(&buf, bins); err != nil {
		return err
	}
	if old, err := os.ReadFile(bundlePath); err != nil || !bytes.Equal(old, buf.Bytes()) {
		if err := os.WriteFile(bundlePath, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(guestStamp, nil, 0o644)
}

// Build builds bin/instar: static, with the guest binaries embedded.
func Build() error {
	mg.Deps(Guest)
	env := map[string]string{"CGO_ENABLED": "0"}
	// -s -w drop the symbol table and DWARF (stack traces keep their
	// names): a third smaller, and a little faster to start.
	// -buildvcs=auto stamps the revision (instar version) wherever the Go
	// toolchain finds the checkout, whatever GOFLAGS says.
	return sh.RunWithV(env, "go", "build", "-trimpath", "-buildvcs=auto", "-ldflags=-s -w", "-o", instarBin, instarPkg)
}

// Man writes the man pages, generated from the command tree, into
// build/man (instar.1, instar-create.1, ...).
func Man() error {
	mg.Deps(Guest)
	return sh.RunV("go", "run", "./tools/mangen", manDir)
}

// Lint fails unless the Go code is gofmt- and go vet-clean. It needs no
// guest, but gcc: without it the cgo files go unvetted.
func Lint() error {
	mg.Deps(mg.F(ensure, "sanitize"))
	out, err := sh.Output("gofmt", "-l", ".")
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) != "" {
		return fmt.Errorf("gofmt would change:\n%s", out)
	}
	return sh.RunV("go", "vet", "./...")
}

// Test runs every Go test (the guest binaries are built first).
func Test() error {
	mg.Deps(mg.F(ensure, "test"), Guest)
	return sh.RunV("go", "test", "-count=1", "./...")
}

// Check runs everything CI runs: generated files up to date, lint, build,
// all tests, the format library under the sanitizers, each fuzz target for
// a few seconds (fuzzShort), and the kvm tests
// under QEMU (vmtest). What they all use is installed (or named) first.
func Check() error {
	mg.SerialDeps(mg.F(ensure, "build generate test sanitize vmtest"), Generated, Lint, Build, Test, Sanitize, FuzzShort, Vmtest)
	return nil
}

// Clean removes build output.
func Clean() error {
	for _, p := range []string{"bin", "build", "dist", bundlePath} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// Vmtest runs the kvm accelerator's tests for real: it boots a Debian kernel
// under QEMU's emulator with an emulated AMD CPU (so /dev/kvm exists inside),
// and runs `instar doctor --accel kvm` and the VMM test table with
// -accel kvm there. Its last line is "vmtest: N passed, M failed".
func Vmtest() error {
	mg.Deps(mg.F(ensure, "vmtest"), Build)
	dir := "build/vmtest"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	env := map[string]string{"CGO_ENABLED": "0"}
	vmmTest := filepath.Join(dir, "vmm.test")
	if err := sh.RunWith(env, "go", "test", "-c", "-o", vmmTest, "./vmm"); err != nil {
		return err
	}
	cmdTest := filepath.Join(dir, "instar.test")
	if err := sh.RunWith(env, "go", "test", "-c", "-o", cmdTest, instarPkg); err != nil {
		return err
	}
	cache, err := vmtest.DefaultCacheDir()
	if err != nil {
		return err
	}
	files := map[string]string{"/bin/instar": instarBin, "/bin/vmm.test": vmmTest, "/bin/instar.test": cmdTest}
	tests, _ := filepath.Glob(filepath.Join(guestOut, "test-*.bin"))
	for _, t := range tests {
		files["/guest/"+filepath.Base(t)] = t
	}

	var passed, failed int
	check := func(name string, ok bool, why string) {
		if ok {
			passed++
			fmt.Printf("vmtest: PASS %s\n", name)
		} else {
			failed++
			fmt.Printf("vmtest: FAIL %s: %s\n", name, why)
		}
	}
	run := func(argv ...string) (string, int, error) {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		code, err := vmtest.RunStatic(ctx, cache, files, argv, io.MultiWriter(os.Stdout, &out))
		return out.String(), code, err
	}

	out, code, err := run("/bin/instar", "doctor", "--accel", "kvm", "--output", "json")
	check("instar doctor --accel kvm", err == nil && code == 0 &&
		strings.Contains(out, `"name": "kvm"`) && strings.Contains(out, `"ok": true`),
		fmt.Sprintf("exit %d, %v", code, err))

	countTests := func(out string) {
		for _, line := range strings.Split(out, "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "--- PASS: ") {
				check(strings.Fields(line)[2]+" (kvm)", true, "")
			} else if strings.HasPrefix(line, "--- FAIL: ") {
				check(strings.Fields(line)[2]+" (kvm)", false, "see the log above")
			}
		}
	}
	out, code, err = run("/bin/vmm.test", "-test.v", "-test.count=1", "-accel", "kvm", "-guestdir", "/guest")
	countTests(out)
	check("VMM tests ran under /dev/kvm", err == nil && code == 0 && strings.Contains(out, "kvm: ") &&
		strings.Contains(out, "exits"), fmt.Sprintf("exit %d, %v", code, err))

	// The representative part of the create parity suite: images made
	// under kvm must be byte-identical to those made under process.
	out, code, err = run("/bin/instar.test", "-test.v", "-test.count=1", "-test.run", "TestAccelParity", "-accel", "kvm")
	countTests(out)
	check("create parity ran under /dev/kvm", err == nil && code == 0 && strings.Contains(out, "identical under kvm and process"),
		fmt.Sprintf("exit %d, %v", code, err))
	fmt.Printf("vmtest: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return fmt.Errorf("vmtest: %d failed", failed)
	}
	return nil
}

// Bench measures the speed targets: a whole self-test guest run under each
// usable accelerator, and instar create against qemu-img create for every
// format (medians, run alternately, and their ratio).
func Bench() error {
	mg.Deps(mg.F(ensure, "bench"), Build)
	return sh.RunV("go", "run", "./tools/bench", "-instar", instarBin)
}

// Sanitize runs the format library's host tests under AddressSanitizer and
// UndefinedBehaviorSanitizer; any finding aborts the run.
func Sanitize() error {
	mg.Deps(mg.F(ensure, "sanitize"), Guest)
	return sh.RunWithV(fuzzrun.SanitizerEnv, "go", "test", "-count=1", "-asan", "./guest/format/")
}

// Fuzz fuzzes every fuzz target, one after another, for FUZZTIME each
// (a Go duration, default 10m), the format library under the sanitizers,
// the differential targets against qemu-img included. FUZZ (a regular
// expression) picks targets, FUZZPARALLEL sets the workers, FUZZCACHEDIR
// where the inputs found are kept (default: go test's, in GOCACHE).
func Fuzz(ctx context.Context) error {
	mg.Deps(mg.F(ensure, "fuzz"))
	d, err := time.ParseDuration(envOr("FUZZTIME", "10m"))
	if err != nil {
		return fmt.Errorf("FUZZTIME: %w", err)
	}
	return runFuzz(ctx, fuzzrun.Options{Time: d, Qemu: true})
}

// FuzzShort fuzzes each target but the differential ones for 6 seconds:
// check's guard against a regression in a parser.
func FuzzShort(ctx context.Context) error {
	mg.Deps(mg.F(ensure, "sanitize"))
	return runFuzz(ctx, fuzzrun.Options{Time: 6 * time.Second})
}

func runFuzz(ctx context.Context, o fuzzrun.Options) error {
	o.Out, o.CacheDir = os.Stdout, os.Getenv("FUZZCACHEDIR")
	if re := os.Getenv("FUZZ"); re != "" {
		var err error
		if o.Match, err = regexp.Compile(re); err != nil {
			return fmt.Errorf("FUZZ: %w", err)
		}
	}
	if p := os.Getenv("FUZZPARALLEL"); p != "" {
		var err error
		if o.Parallel, err = strconv.Atoi(p); err != nil {
			return fmt.Errorf("FUZZPARALLEL: %w", err)
		}
	}
	_, err := fuzzrun.Run(ctx, o)
	return err
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
