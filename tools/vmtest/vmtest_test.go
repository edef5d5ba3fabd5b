package vmtest

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFindXZ(t *testing.T) {
	buf := []byte("MZ\x00\xfd7zX\x00 not quite \xfd7zXZ\x00 stream")
	if got, want := findXZ(buf), strings.Index(string(buf), "\xfd7zXZ\x00"); got != want || got < 0 {
		t.Fatalf("findXZ = %d, want %d", got, want)
	}
	if got := findXZ([]byte("no magic here \xfd7zXZ")); got != -1 {
		t.Fatalf("findXZ without magic = %d, want -1", got)
	}
}

// TestExtractVmlinux hides an XZ-compressed ELF between other bytes, as a
// bzImage does, and gets it back.
func TestExtractVmlinux(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Fatal("xz is needed (mage check installs it)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	var xz bytes.Buffer
	if err := runFilter(bytes.NewReader(want), &xz, "xz", "-0", "-T1", "--check=crc32", "-c"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "vmlinuz")
	content := append([]byte("setup code and a decompressor\x00\x01"), xz.Bytes()...)
	content = append(content, "trailing bytes after the stream"...)
	if err := os.WriteFile(img, content, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "vmlinux")
	if err := extractVmlinux(t.Context(), img, out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("extracted %d bytes, want the %d of the original", len(got), len(want))
	}
}

func TestCheckELFTruncated(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkELF(exe); err != nil {
		t.Fatalf("checkELF(test binary): %v", err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkELF(short); err == nil {
		t.Fatal("checkELF accepted a truncated ELF")
	}
}

func TestConsoleLog(t *testing.T) {
	var out bytes.Buffer
	c := &consoleLog{out: &out}
	stream := "booting\r\nprogram prints VMTEST-EXIT 7 in its own output\r\n" +
		"partial line\r\nVMTEST-EXIT 3\r\n[   1.0] reboot: Power down\r\n"
	// Feed it in awkward pieces.
	for i := 0; i < len(stream); i += 5 {
		if _, err := c.Write([]byte(stream[i:min(i+5, len(stream))])); err != nil {
			t.Fatal(err)
		}
	}
	if out.String() != stream {
		t.Fatalf("out = %q, want the stream passed through", out.String())
	}
	code, exited, initErr := c.result()
	if code != 3 || !exited || initErr != "" {
		t.Fatalf("result = %d, %v, %q; want 3, true, \"\"", code, exited, initErr)
	}
	if !strings.Contains(c.tailString(), "Power down") {
		t.Fatalf("tail %q lacks the last line", c.tailString())
	}

	c = &consoleLog{}
	c.Write([]byte("\nVMTEST-INIT-ERROR loading module kvm.ko: no such device")) // no final newline
	if _, exited, initErr := c.result(); exited || initErr != "loading module kvm.ko: no such device" {
		t.Fatalf("result = %v, %q; want an init error", exited, initErr)
	}
}

func TestConsoleLogTailBounded(t *testing.T) {
	c := &consoleLog{}
	line := []byte(strings.Repeat("x", 99) + "\n")
	for range 1000 {
		c.Write(line)
	}
	if n := len(c.tail); n > 2*tailSize {
		t.Fatalf("tail holds %d bytes, want at most %d", n, 2*tailSize)
	}
	if n := len(c.tailString()); n > tailSize {
		t.Fatalf("tailString has %d bytes, want at most %d", n, tailSize)
	}
}

func TestKernelPackageChoice(t *testing.T) {
	depends := []byte("linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n")
	if got := dependsNames(depends); !reflect.DeepEqual(got, []string{"linux-image-6.1.0-57-amd64"}) {
		t.Fatalf("dependsNames = %q", got)
	}
	names := []string{
		"linux-image-6.1.0-9-amd64", "linux-image-6.1.0-57-amd64", "linux-image-6.1.0-100-amd64-dbg",
		"linux-image-6.1.0-12-amd64", "linux-image-6.12.0-1-amd64", "",
	}
	if got := newestKernelPackage(names); got != "linux-image-6.1.0-57-amd64" {
		t.Fatalf("newestKernelPackage = %q", got)
	}
	if got := newestKernelPackage([]string{"linux-image-amd64"}); got != "" {
		t.Fatalf("newestKernelPackage = %q, want none", got)
	}
}

func TestExtractTar(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, typ byte, body string) {
		t.Helper()
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	add("./boot/", tar.TypeDir, "")
	add("./boot/vmlinuz-6.1.0-1-amd64", tar.TypeReg, "kernel")
	add("./boot/config-6.1.0-1-amd64", tar.TypeReg, "config")
	add("./lib/modules/6.1.0-1-amd64/kernel/arch/x86/kvm/kvm-amd.ko", tar.TypeReg, "kvm-amd")
	add("./lib/modules/6.1.0-1-amd64/kernel/drivers/crypto/ccp/ccp.ko.xz", tar.TypeReg, "ccp")
	add("./lib/modules/6.1.0-1-amd64/kernel/drivers/crypto/ccp/ccp-crypto.ko", tar.TypeReg, "no")
	add("./lib/modules/6.1.0-1-amd64/kernel/virt/lib/irqbypass.ko", tar.TypeSymlink, "")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	got, err := extractTar(&buf, dir, wantKernelFile)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"boot/vmlinuz-6.1.0-1-amd64",
		"lib/modules/6.1.0-1-amd64/kernel/arch/x86/kvm/kvm-amd.ko",
		"lib/modules/6.1.0-1-amd64/kernel/drivers/crypto/ccp/ccp.ko.xz",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("extracted %q, want %q", got, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, want[1]))
	if err != nil || string(b) != "kvm-amd" {
		t.Fatalf("kvm-amd.ko = %q, %v", b, err)
	}
}

func TestExtractTarUnsafe(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "../boot/vmlinuz-x", Typeflag: tar.TypeReg, Mode: 0o644})
	tw.Close()
	if _, err := extractTar(&buf, t.TempDir(), func(string) bool { return true }); err == nil {
		t.Fatal("extractTar accepted a path outside its directory")
	}
}

func TestModuleName(t *testing.T) {
	for name, want := range map[string]string{
		"lib/modules/v/kernel/arch/x86/kvm/kvm.ko":           "kvm",
		"lib/modules/v/kernel/arch/x86/kvm/kvm-amd.ko":       "kvm-amd",
		"lib/modules/v/kernel/virt/lib/irqbypass.ko.xz":      "irqbypass",
		"lib/modules/v/kernel/arch/x86/kvm/kvm-intel.ko":     "",
		"lib/modules/v/kernel/drivers/crypto/ccp/ccp.ko.zst": "",
	} {
		if got := moduleName(name); got != want {
			t.Errorf("moduleName(%q) = %q, want %q", name, got, want)
		}
	}
}
