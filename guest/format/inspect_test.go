//go:build cgo

package format

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"instar/shared"
)

// inspectFile inspects the file at path.
func inspectFile(t *testing.T, path string) InspectResult {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Inspect(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// runQemuImg runs qemu-img with args, failing the test on an error.
func runQemuImg(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(qemuImg, args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
}

func TestInspectSafeSmoke(t *testing.T) {
	if _, err := os.Stat(qemuImg); err != nil {
		t.Skip("no qemu-img")
	}
	dir := t.TempDir()
	for _, c := range []struct {
		fmt    string
		format uint32
	}{{"qcow2", shared.InspectFmtQcow2}, {"vmdk", shared.InspectFmtVmdk}, {"vpc", shared.InspectFmtVpc},
		{"vhdx", shared.InspectFmtVhdx}, {"raw", shared.InspectFmtRaw}} {
		p := filepath.Join(dir, "img."+c.fmt)
		runQemuImg(t, "create", "-q", "-f", c.fmt, p, "16M")
		res := inspectFile(t, p)
		if res.Format != c.format || len(res.Failures) != 0 || !res.HasVirtualSize && c.format != 0 {
			t.Errorf("%s: %+v", c.fmt, res)
		}
	}
}

func TestInspectPrint(t *testing.T) {
	p := os.Getenv("INSPECT_FILE")
	if p == "" {
		t.Skip()
	}
	t.Logf("%+v", inspectFile(t, p))
}
