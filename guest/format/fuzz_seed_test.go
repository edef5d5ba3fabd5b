//go:build cgo

package format

// The fuzz targets' seed corpora: images qemu-img makes with every format
// and option combination the parser tests use, each checked to parse to
// qemu-img's virtual size, encoded (fuzz_image_test.go) and written in Go's
// corpus file format under testdata/fuzz/<target>/. Regenerate with
//
//	go test -run TestWriteSeedCorpus -update ./guest/format/
//
// (and TestCoverCasesFresh its file), which rewrites only the seeds it makes (named "qemu-*"); crashers the
// fuzzer found stay beside them as regression inputs.

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"instar/shared"
	"instar/shared/formats"
)

var updateSeeds = flag.Bool("update", false, "rewrite the fuzz seed corpora from qemu-img images")

// seedMax bounds an encoded seed: metadata only, a few KiB.
const seedMax = 16 << 10

// corpusDir is a target's corpus directory.
func corpusDir(target string) string { return filepath.Join("testdata", "fuzz", target) }

// qcow2SeedSamples are the qcow2 images of the seed corpus.
func qcow2SeedSamples(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := qemuSamples(t, dir, "qcow2", "qcow2", map[string]sample{
		"v2":         {"compat=0.10", "1G"},
		"v3":         {"compat=1.1", "1G"},
		"c512":       {"cluster_size=512", "64M"},
		"c2m":        {"cluster_size=2M", "1T"},
		"lazy":       {"lazy_refcounts=on", "1G"},
		"extl2":      {"extended_l2=on,cluster_size=128k", "10G"},
		"zstd":       {"compression_type=zstd", "1G"},
		"refcount1":  {"refcount_bits=1", "1G"},
		"refcount64": {"refcount_bits=64", "1G"},
		"metadata":   {"preallocation=metadata", "4M"},
		"empty":      {"compat=1.1", "0"},
		"odd":        {"compat=1.1", "1000"},
		"huge":       {"cluster_size=2M", "2E"},
	})
	child := filepath.Join(dir, "v3", "child.qcow2")
	if o, err := qemuCreate("-f", "qcow2", "-u", "-b", "base.raw", "-F", "raw", child, "1G"); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, o)
	}
	out["backing"] = child
	return out
}

// otherFormatSeeds are images of formats qemu probes and instar refuses,
// for the detection target.
func otherFormatSeeds(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range []string{"qcow", "qed", "vdi", "parallels"} {
		p := filepath.Join(dir, "other."+f)
		if o, err := qemuCreate("-f", f, p, "64M"); err != nil {
			t.Fatalf("qemu-img create -f %s: %v: %s", f, err, o)
		}
		out[f] = p
	}
	return out
}

// TestWriteSeedCorpus makes the seed corpora (with -update).
func TestWriteSeedCorpus(t *testing.T) {
	if !*updateSeeds {
		t.Skip("rewrites testdata/fuzz: run with -update")
	}
	needQemuImg(t)
	for _, target := range []string{"FuzzDetect", "FuzzQcow2", "FuzzVmdkSparse", "FuzzVmdkDescriptor", "FuzzVpc", "FuzzVhdx"} {
		old, _ := filepath.Glob(filepath.Join(corpusDir(target), "qemu-*"))
		for _, p := range old {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	sets := []struct {
		format  uint32
		samples map[string]string
		size    func(string) int64
	}{
		{shared.FormatQcow2, qcow2SeedSamples(t, mkdir(t, dir, "qcow2")), func(p string) int64 { return qemuVirtualSize(t, p, "qcow2") }},
		{shared.FormatVmdk, vmdkParseSamples(t, mkdir(t, dir, "vmdk")), func(p string) int64 { return qemuBackingSize(t, p) }},
		{shared.FormatVpc, vpcSamples(t, mkdir(t, dir, "vpc")), func(p string) int64 { return qemuVirtualSize(t, p, "vpc") }},
		{shared.FormatVhdx, vhdxSamples(t, mkdir(t, dir, "vhdx")), func(p string) int64 { return qemuVirtualSize(t, p, "vhdx") }},
	}
	for _, set := range sets {
		name := formatName(set.format)
		for sname, p := range set.samples {
			file, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := encodeImage(file)
			if err != nil {
				t.Fatalf("%s %s: %v", name, sname, err)
			}
			if len(enc) > seedMax {
				t.Logf("%s %s: %d bytes encoded, left out", name, sname, len(enc))
				continue
			}
			// A seed must be an image the parser and qemu-img agree on.
			im := decodeImage(enc)
			got, code := Parse(set.format, im, im.size, MinScratch(set.format))
			want := set.size(p)
			if want < 0 && code == shared.CreateErrBackingParse {
				// both refuse it: a seed all the same
			} else if code != shared.CreateErrOK || int64(got.VirtualSize) != want {
				t.Errorf("%s %s: parse = %+v, %d; qemu-img says %d", name, sname, got, code, want)
			}
			target := map[uint32]string{shared.FormatQcow2: "FuzzQcow2", shared.FormatVpc: "FuzzVpc", shared.FormatVhdx: "FuzzVhdx"}[set.format]
			if set.format == shared.FormatVmdk {
				target = "FuzzVmdkDescriptor"
				if bytes.HasPrefix(file, []byte("KDMV")) || bytes.HasPrefix(file, []byte("COWD")) {
					target = "FuzzVmdkSparse"
				}
			}
			writeSeed(t, target, name+"-"+sname, enc)
			writeSeed(t, "FuzzDetect", name+"-"+sname, head(t, file))
		}
	}
	for sname, p := range otherFormatSeeds(t, dir) {
		file, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		writeSeed(t, "FuzzDetect", sname, head(t, file))
	}
}

// head is what detection reads of file, encoded.
func head(t *testing.T, file []byte) []byte {
	t.Helper()
	enc, err := encodeImage(file[:min(len(file), 2048)])
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	p := filepath.Join(parent, name)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func formatName(number uint32) string {
	for _, f := range formats.All {
		if f.Number == number {
			return f.Name
		}
	}
	return fmt.Sprint(number)
}

// writeSeed writes one []byte input in Go's corpus file format.
func writeSeed(t *testing.T, target, name string, in []byte) {
	t.Helper()
	if err := os.MkdirAll(corpusDir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(in)) + ")\n"
	if err := os.WriteFile(filepath.Join(corpusDir(target), "qemu-"+name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readCorpus reads the []byte inputs of the corpus files of target (Go's
// corpus file format, one []byte value each).
func readCorpus(t testing.TB, target string) [][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(corpusDir(target), "*"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
			!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
			t.Fatalf("%s: not a one-value []byte corpus file", p)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, []byte(s))
	}
	return out
}

// parserTargets names, for each format with a parser, the targets whose
// corpora hold its images.
var parserTargets = map[uint32][]string{
	shared.FormatQcow2: {"FuzzQcow2"},
	shared.FormatVmdk:  {"FuzzVmdkSparse", "FuzzVmdkDescriptor"},
	shared.FormatVpc:   {"FuzzVpc"},
	shared.FormatVhdx:  {"FuzzVhdx"},
}

// TestSeedCorpora checks that every fuzz target has seeds and that every
// qemu-img seed is still an image its parser accepts: a seed the parser
// refuses at once would fuzz nothing past the first check.
func TestSeedCorpora(t *testing.T) {
	for format, targets := range parserTargets {
		for _, target := range targets {
			checkSeeds(t, target, "the parser", func(im *fuzzImage) bool {
				_, code := Parse(format, im, im.size, MinScratch(format))
				return code == shared.CreateErrOK
			})
		}
	}
}

// checkSeeds checks that target has seeds and that what (the entry point
// accepts says yes of) takes at least half of them.
func checkSeeds(t *testing.T, target, what string, accepts func(*fuzzImage) bool) {
	t.Helper()
	seeds := readCorpus(t, target)
	if len(seeds) == 0 {
		t.Errorf("%s has no seeds", target)
	}
	accepted := 0
	for _, in := range seeds {
		if accepts(decodeImage(in)) {
			accepted++
		}
	}
	if accepted < len(seeds)/2 {
		t.Errorf("%s: %s accepts %d of %d seeds", target, what, accepted, len(seeds))
	}
	if len(readCorpus(t, "FuzzDetect")) == 0 {
		t.Error("FuzzDetect has no seeds")
	}
}

// coverCasesSource is cgo_cover_cases.go: one statement per slot of the C
// edge map (cgo_cover.go).
func coverCasesSource(slots int) string {
	var b strings.Builder
	b.WriteString("// Code generated by TestCoverCasesFresh -update; DO NOT EDIT.\n\n")
	b.WriteString("//go:build cgo && fuzzcover\n\npackage format\n\n")
	b.WriteString("// covHit runs a statement of its own for each slot of the C edge map,\n")
	b.WriteString("// so that Go's fuzzing counters see each slot as coverage.\n")
	b.WriteString("func covHit(i int) {\n\tswitch i {\n")
	for i := 0; i < slots; i++ {
		fmt.Fprintf(&b, "\tcase %d:\n\t\tcovCount[%d]++\n", i, i)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// TestCoverCasesFresh holds cgo_cover_cases.go to its generator (with
// -update, rewrites it).
func TestCoverCasesFresh(t *testing.T) {
	const path, slots = "cgo_cover_cases.go", 2048 // covSlots, COV_SLOTS
	want := coverCasesSource(slots)
	if *updateSeeds {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: go test -run TestCoverCasesFresh -update ./guest/format/", path)
	}
}
