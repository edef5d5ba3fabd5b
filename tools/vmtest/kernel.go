package vmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"instar/tools/prereq"
)

// KVMModules are the kernel modules that provide /dev/kvm on an emulated AMD
// CPU, in load order.
var KVMModules = []string{"irqbypass", "kvm", "ccp", "kvm-amd"}

// moduleSuffixes are the module file endings this harness can handle.
var moduleSuffixes = []string{".ko", ".ko.xz"}

// Kernel is a Debian kernel ready to boot under QEMU, with the modules that
// make /dev/kvm appear in it. Paths are absolute.
type Kernel struct {
	// Package is the Debian package the kernel came from.
	Package string `json:"package"`
	// Version is the kernel release, as in /lib/modules/<Version>.
	Version string `json:"version"`
	// Vmlinux is the uncompressed ELF kernel.
	Vmlinux string `json:"vmlinux"`
	// ModulesDir is lib/modules/<Version>; it holds only the extracted
	// modules.
	ModulesDir string `json:"modules_dir"`
	// Modules are the files of KVMModules, in load order; each ends in .ko
	// or .ko.xz.
	Modules []string `json:"modules"`
}

// manifestName is the file in the cache directory that records a complete
// kernel, with paths relative to the cache directory.
const manifestName = "kernel.json"

// EnsureKernel returns a Debian 6.1 kernel and its KVM modules, kept in
// cacheDir. The first call installs QEMU and xz if they are missing (as
// package prereq does: as root with apt, else it fails naming the command),
// downloads the newest linux-image-6.1.0-N-amd64 package apt knows and
// unpacks the parts needed; later calls find them in cacheDir and return at
// once. Concurrent callers sharing cacheDir are serialized with a lock file.
func EnsureKernel(cacheDir string) (*Kernel, error) {
	ctx := context.Background()
	cacheDir, err := filepath.Abs(cacheDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("vmtest: creating cache: %w", err)
	}
	unlock, err := lockDir(cacheDir)
	if err != nil {
		return nil, fmt.Errorf("vmtest: locking cache: %w", err)
	}
	defer unlock()

	if err := prereq.Ensure(ctx, prereq.Need{Tools: []prereq.Tool{prereq.QemuX86}}, os.Stderr); err != nil {
		return nil, fmt.Errorf("vmtest: %w", err)
	}
	if k, err := loadManifest(cacheDir); err == nil {
		return k, nil
	}
	k, err := fetchKernel(ctx, cacheDir)
	if err != nil {
		return nil, fmt.Errorf("vmtest: getting kernel: %w", err)
	}
	if err := saveManifest(cacheDir, k); err != nil {
		return nil, fmt.Errorf("vmtest: %w", err)
	}
	return k, nil
}

// fetchKernel downloads the kernel package into cacheDir and unpacks the
// kernel and the KVM modules from it.
func fetchKernel(ctx context.Context, cacheDir string) (*Kernel, error) {
	need := prereq.Need{Tools: []prereq.Tool{prereq.XZ, prereq.DpkgDeb, prereq.AptCache, prereq.AptGet}}
	if err := prereq.Ensure(ctx, need, os.Stderr); err != nil {
		return nil, err
	}
	pkg, err := kernelPackage(ctx)
	if err != nil {
		return nil, err
	}
	deb, cleanup, err := downloadPackage(ctx, cacheDir, pkg)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	root := filepath.Join(cacheDir, pkg)
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	files, err := extractDeb(ctx, deb, root, wantKernelFile)
	if err != nil {
		return nil, err
	}
	return assembleKernel(ctx, pkg, root, files)
}

// downloadPackage runs apt-get download in a fresh directory under cacheDir
// (apt-get writes into its working directory) and returns the .deb and a
// function that removes it.
func downloadPackage(ctx context.Context, cacheDir, pkg string) (string, func(), error) {
	// Left behind by a run that was killed; the caller holds the lock.
	stale, _ := filepath.Glob(filepath.Join(cacheDir, "download-*"))
	for _, d := range stale {
		os.RemoveAll(d)
	}
	dir, err := os.MkdirTemp(cacheDir, "download-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if _, err := runCmd(ctx, dir, "apt-get", "download", pkg); err != nil {
		cleanup()
		return "", nil, err
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if len(debs) != 1 {
		cleanup()
		return "", nil, fmt.Errorf("apt-get download %s left %d .deb files, want 1", pkg, len(debs))
	}
	return debs[0], cleanup, nil
}

// wantKernelFile selects, from the kernel package, the compressed kernel
// and the KVM modules.
func wantKernelFile(name string) bool {
	if strings.HasPrefix(name, "boot/vmlinuz-") {
		return true
	}
	return strings.HasPrefix(name, "lib/modules/") && moduleName(name) != ""
}

// moduleName returns which of KVMModules the file name is, or "".
func moduleName(name string) string {
	base := path.Base(name)
	for _, suf := range moduleSuffixes {
		if m, ok := strings.CutSuffix(base, suf); ok {
			for _, k := range KVMModules {
				if m == k {
					return m
				}
			}
		}
	}
	return ""
}

// assembleKernel decompresses the kernel found among files (relative to
// root) and orders the modules.
func assembleKernel(ctx context.Context, pkg, root string, files []string) (*Kernel, error) {
	k := &Kernel{Package: pkg}
	found := map[string]string{}
	var bzImage string
	for _, f := range files {
		if v, ok := strings.CutPrefix(f, "boot/vmlinuz-"); ok {
			k.Version, bzImage = v, filepath.Join(root, f)
			continue
		}
		found[moduleName(f)] = filepath.Join(root, f)
	}
	if bzImage == "" {
		return nil, fmt.Errorf("package %s has no /boot/vmlinuz-*", pkg)
	}
	k.ModulesDir = filepath.Join(root, "lib", "modules", k.Version)
	for _, m := range KVMModules {
		p, ok := found[m]
		if !ok {
			return nil, fmt.Errorf("package %s has no module %s", pkg, m)
		}
		k.Modules = append(k.Modules, p)
	}
	k.Vmlinux = filepath.Join(root, "vmlinux")
	if err := extractVmlinux(ctx, bzImage, k.Vmlinux); err != nil {
		return nil, err
	}
	// Only the uncompressed kernel is booted.
	if err := os.Remove(bzImage); err != nil {
		return nil, err
	}
	return k, nil
}

// loadManifest returns the kernel recorded in cacheDir after checking that
// its files are still there.
func loadManifest(cacheDir string) (*Kernel, error) {
	j, err := os.ReadFile(filepath.Join(cacheDir, manifestName))
	if err != nil {
		return nil, err
	}
	var k Kernel
	if err := json.Unmarshal(j, &k); err != nil {
		return nil, err
	}
	abs := func(p string) string { return filepath.Join(cacheDir, p) }
	k.Vmlinux, k.ModulesDir = abs(k.Vmlinux), abs(k.ModulesDir)
	for i := range k.Modules {
		k.Modules[i] = abs(k.Modules[i])
	}
	if len(k.Modules) != len(KVMModules) {
		return nil, errors.New("stale manifest")
	}
	if err := checkELF(k.Vmlinux); err != nil {
		return nil, err
	}
	for _, m := range k.Modules {
		if _, err := os.Stat(m); err != nil {
			return nil, err
		}
	}
	return &k, nil
}

// saveManifest records k in cacheDir, with paths relative to it.
func saveManifest(cacheDir string, k *Kernel) error {
	rel := func(p string) (string, error) { return filepath.Rel(cacheDir, p) }
	r := *k
	r.Modules = make([]string, len(k.Modules))
	var err error
	if r.Vmlinux, err = rel(k.Vmlinux); err != nil {
		return err
	}
	if r.ModulesDir, err = rel(k.ModulesDir); err != nil {
		return err
	}
	for i, m := range k.Modules {
		if r.Modules[i], err = rel(m); err != nil {
			return err
		}
	}
	j, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(cacheDir, manifestName), strings.NewReader(string(j)+"\n"), 0o644)
}

// lockDir takes an exclusive flock on dir/.lock and returns its release.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
