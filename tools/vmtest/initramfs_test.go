package vmtest

import (
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// fakeKernel returns a Kernel whose modules are small files, the second
// one xz-compressed when xz is installed.
func fakeKernel(t *testing.T) *Kernel {
	t.Helper()
	dir := t.TempDir()
	k := &Kernel{Version: "test", ModulesDir: dir}
	for i, m := range KVMModules {
		p := filepath.Join(dir, m+".ko")
		if err := os.WriteFile(p, []byte("module "+m), 0o644); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if _, err := exec.LookPath("xz"); err == nil {
				if out, err := exec.Command("xz", p).CombinedOutput(); err != nil {
					t.Fatalf("xz: %v: %s", err, out)
				}
				p += ".xz"
			}
		}
		k.Modules = append(k.Modules, p)
	}
	return k
}

func TestBuildInitramfs(t *testing.T) {
	k := fakeKernel(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "tool")
	if err := os.WriteFile(bin, []byte("#!tool"), 0o751); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.WriteFile(data, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "initramfs.cpio")
	files := map[string]string{"/bin/tool": bin, "usr/share/x/data": data}
	if err := BuildInitramfs(out, k, files, []string{"/bin/tool", "-v"}); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(f))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]cpio.Record{}
	for _, r := range recs {
		if _, dup := byName[r.Name]; dup {
			t.Errorf("%s appears twice", r.Name)
		}
		byName[r.Name] = r
	}
	content := func(name string) string {
		t.Helper()
		r, ok := byName[name]
		if !ok {
			t.Fatalf("%s missing; archive has %v", name, recs)
		}
		b, err := io.ReadAll(io.NewSectionReader(r, 0, int64(r.FileSize)))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	mode := func(name string) uint64 { return byName[name].Mode }

	for _, d := range []string{"dev", "proc", "sys", "tmp", "modules", "bin", "usr/share/x"} {
		if mode(d)&cpio.S_IFMT != cpio.S_IFDIR {
			t.Errorf("%s: mode %o, want a directory", d, mode(d))
		}
	}
	if r := byName["dev/console"]; r.Mode&cpio.S_IFMT != cpio.S_IFCHR || r.Rmajor != 5 || r.Rminor != 1 {
		t.Errorf("dev/console = %v, want char device 5,1", r)
	}
	if mode("init") != cpio.S_IFREG|0o755 {
		t.Errorf("init: mode %o", mode("init"))
	}
	ef, err := elf.NewFile(bytes.NewReader([]byte(content("init"))))
	if err != nil {
		t.Fatalf("init is not an ELF: %v", err)
	}
	if libs, _ := ef.ImportedLibraries(); len(libs) != 0 || ef.Section(".interp") != nil {
		t.Errorf("init is not static")
	}
	for i, m := range []string{"00-irqbypass", "01-kvm", "02-ccp", "03-kvm-amd"} {
		if got, want := content("modules/"+m+".ko"), "module "+KVMModules[i]; got != want {
			t.Errorf("modules/%s.ko = %q, want %q", m, got, want)
		}
	}
	if got := content("vmtest/argv.json"); got != `["/bin/tool","-v"]` {
		t.Errorf("argv.json = %s", got)
	}
	if content("bin/tool") != "#!tool" || mode("bin/tool") != cpio.S_IFREG|0o751 {
		t.Errorf("bin/tool: mode %o", mode("bin/tool"))
	}
	if content("usr/share/x/data") != "data" || mode("usr/share/x/data") != cpio.S_IFREG|0o600 {
		t.Errorf("usr/share/x/data: mode %o", mode("usr/share/x/data"))
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw[len(raw)-512:], []byte(cpio.Trailer)) {
		t.Errorf("archive does not end with a trailer")
	}
}

func TestBuildInitramfsConflict(t *testing.T) {
	k := fakeKernel(t)
	out := filepath.Join(t.TempDir(), "initramfs.cpio")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := BuildInitramfs(out, k, map[string]string{"/init": exe}, nil); err == nil {
		t.Fatal("BuildInitramfs let a file replace /init")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("failed BuildInitramfs left %s behind", out)
	}
}

func TestManifestRoundTrip(t *testing.T) {
	cache := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(cache, "linux-image-test")
	k := &Kernel{
		Package:    "linux-image-test",
		Version:    "6.1.0-test",
		Vmlinux:    filepath.Join(root, "vmlinux"),
		ModulesDir: filepath.Join(root, "lib/modules/6.1.0-test"),
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(k.ModulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.Vmlinux, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, m := range KVMModules {
		p := filepath.Join(k.ModulesDir, m+".ko")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		k.Modules = append(k.Modules, p)
	}
	if err := saveManifest(cache, k); err != nil {
		t.Fatal(err)
	}
	got, err := loadManifest(cache)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, k) {
		t.Fatalf("loadManifest = %+v, want %+v", got, k)
	}
	os.Remove(k.Modules[2])
	if _, err := loadManifest(cache); err == nil {
		t.Fatal("loadManifest accepted a cache with a module missing")
	}
}
