package cheader_test

import (
	"bufio"
	"fmt"
	"go/constant"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"instar/shared"
	"instar/tools/cheader"
)

const (
	sharedDir = "../../shared"
	header    = "../../guest/include/instar/shared.h"
)

// goStructs maps each C struct to its Go definition. The test fails if the
// generator emits a struct missing here, so none goes unchecked.
var goStructs = map[string]reflect.Type{
	"request":           reflect.TypeOf(shared.Request{}),
	"device_info":       reflect.TypeOf(shared.DeviceInfo{}),
	"device_table":      reflect.TypeOf(shared.DeviceTable{}),
	"create_config":     reflect.TypeOf(shared.CreateConfig{}),
	"create_result":     reflect.TypeOf(shared.CreateResult{}),
	"info_config":       reflect.TypeOf(shared.InfoConfig{}),
	"info_extent_entry": reflect.TypeOf(shared.InfoExtentEntry{}),
	"inspect_config":    reflect.TypeOf(shared.InspectConfig{}),
}

func TestHeaderIsUpToDate(t *testing.T) {
	stale, err := cheader.Stale(sharedDir, header)
	if err != nil {
		t.Fatal(err)
	}
	if stale {
		t.Fatalf("%s is stale: run `go run mage.go generate`", header)
	}
}

// TestHeaderMatchesGo compiles a C program against the generated header that
// prints every struct size, field offset and constant, and compares each with
// what Go says (reflect's Size and Offset are unsafe.Sizeof and Offsetof).
func TestHeaderMatchesGo(t *testing.T) {
	p, err := cheader.Load(sharedDir)
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include \"instar/shared.h\"\nint main(void) {\n")
	want := map[string]string{}
	for _, s := range p.Structs {
		gt, ok := goStructs[s.CName]
		if !ok {
			t.Errorf("struct %s has no entry in goStructs", s.CName)
			continue
		}
		fmt.Fprintf(&src, "printf(\"%s %%zu\\n\", sizeof(struct %s));\n", s.CName, s.CName)
		want[s.CName] = fmt.Sprint(gt.Size())
		if gt.NumField() != len(s.Fields) {
			t.Errorf("struct %s has %d fields in C, %d in Go", s.CName, len(s.Fields), gt.NumField())
			continue
		}
		for i, f := range s.Fields {
			gf := gt.Field(i)
			key := s.CName + "." + f.CName
			fmt.Fprintf(&src, "printf(\"%s %%zu %%zu\\n\", offsetof(struct %s, %s), sizeof(((struct %s *)0)->%s));\n",
				key, s.CName, f.CName, s.CName, f.CName)
			want[key] = fmt.Sprintf("%d %d", gf.Offset, gf.Type.Size())
		}
	}
	for _, c := range p.Consts {
		fmt.Fprintf(&src, "printf(\"%s %%lld\\n\", (long long)(%s));\n", c.CName, c.CName)
		v, _ := constant.Int64Val(c.Value)
		want[c.CName] = strconv.FormatInt(v, 10)
	}
	src.WriteString("return 0;\n}\n")

	dir := t.TempDir()
	cfile := filepath.Join(dir, "layout.c")
	if err := os.WriteFile(cfile, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "layout")
	include, _ := filepath.Abs("../../guest/include")
	if out, err := exec.Command("gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", include, "-o", exe, cfile).CombinedOutput(); err != nil {
		t.Fatalf("compile against the header: %v\n%s", err, out)
	}
	out, err := exec.Command(exe).Output()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		got[k] = v
	}
	if len(got) != len(want) {
		t.Errorf("C printed %d values, want %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: C says %q, Go says %q", k, got[k], w)
		}
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"CreateConfig":     "create_config",
		"Qcow2ClusterSize": "qcow2_cluster_size",
		"VmdkHwversion":    "vmdk_hwversion",
		"MaxSectorSize":    "max_sector_size",
		"SHA256Sum":        "sha256_sum",
		"ReqIO":            "req_io",
	} {
		if got := cheader.Snake(in); got != want {
			t.Errorf("Snake(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRejectsTypesWithoutFixedWidth(t *testing.T) {
	dir := t.TempDir()
	src := "package bad\n\n// Bad has an int, whose width C does not fix.\ntype Bad struct{ N int }\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cheader.Load(dir); err == nil || !strings.Contains(err.Error(), "Bad.N") {
		t.Fatalf("Load accepted a struct with an int field: err = %v", err)
	}
}
