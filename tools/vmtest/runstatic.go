package vmtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// CacheEnv names the environment variable that overrides DefaultCacheDir.
const CacheEnv = "INSTAR_VMTEST_CACHE"

// DefaultCacheDir returns where the kernel is kept between runs: $CacheEnv
// if set, else instar/vmtest under the user's cache directory.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv(CacheEnv); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("vmtest: no cache directory (set %s): %w", CacheEnv, err)
	}
	return filepath.Join(d, "instar", "vmtest"), nil
}

// RunStatic runs argv in a KVM-capable test VM whose initramfs holds
// binaries (initramfs path -> host path; static executables, as the VM has
// no C library). It gets the kernel into cacheDir (DefaultCacheDir when
// empty), builds a temporary initramfs with argv as its command and boots
// it, streaming the console to out. It returns the command's exit code.
func RunStatic(ctx context.Context, cacheDir string, binaries map[string]string, argv []string, out io.Writer) (int, error) {
	if cacheDir == "" {
		var err error
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return -1, err
		}
	}
	k, err := EnsureKernel(cacheDir)
	if err != nil {
		return -1, err
	}
	f, err := os.CreateTemp("", "vmtest-initramfs-*.cpio")
	if err != nil {
		return -1, fmt.Errorf("vmtest: %w", err)
	}
	initrd := f.Name()
	f.Close()
	defer os.Remove(initrd)
	if err := BuildInitramfs(initrd, k, binaries, argv); err != nil {
		return -1, err
	}
	return Run(ctx, k, initrd, nil, out)
}
