package vmtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// InitPackage is the import path of the init program of the initramfs.
const InitPackage = "instar/tools/vmtest/init"

// BuildStatic builds the Go main package pkg (an import path in module
// instar, or a directory) as a static linux/amd64 executable at out, with
// CGO_ENABLED=0 as the test VM has no C library.
func BuildStatic(ctx context.Context, pkg, out string) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	_, err = runGo(ctx, "build", "-trimpath", "-o", out, pkg)
	if err != nil {
		return fmt.Errorf("vmtest: building %s: %w", pkg, err)
	}
	return nil
}

// runGo runs the go command for linux/amd64 without cgo, from this
// package's source directory when it is known, so that import paths of
// module instar resolve wherever the caller runs.
func runGo(ctx context.Context, args ...string) ([]byte, error) {
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	return runCmdEnv(ctx, sourceDir(), env, "go", args...)
}

// sourceDir returns the directory of this file if it exists (it does not
// in a -trimpath build), else "" for the current directory.
func sourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return ""
	}
	dir := filepath.Dir(file)
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}
