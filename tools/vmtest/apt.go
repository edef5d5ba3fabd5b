package vmtest

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// kernelPackageRE matches the Debian 12 kernel image packages this harness
// knows how to use (kernel 6.1 with kvm-amd as a plain .ko module).
var kernelPackageRE = regexp.MustCompile(`^linux-image-6\.1\.0-([0-9]+)-amd64$`)

// KernelAvailable reports whether EnsureKernel can get its kernel without
// refreshing apt's package lists: it is in cacheDir already, or apt knows a
// package for it. The build asks before vmtest runs, so that a machine that
// cannot refresh them is told so at once.
func KernelAvailable(ctx context.Context, cacheDir string) bool {
	if abs, err := filepath.Abs(cacheDir); err == nil {
		if _, err := loadManifest(abs); err == nil {
			return true
		}
	}
	_, err := findKernelPackage(ctx)
	return err == nil
}

// kernelPackage returns the name of the newest linux-image-6.1.0-N-amd64
// package apt knows, running apt-get update once if it knows none.
func kernelPackage(ctx context.Context) (string, error) {
	name, err := findKernelPackage(ctx)
	if err == nil {
		return name, nil
	}
	if _, uerr := runCmd(ctx, "", "apt-get", "update"); uerr != nil {
		return "", fmt.Errorf("%w (and %w)", err, uerr)
	}
	return findKernelPackage(ctx)
}

// findKernelPackage asks apt, first for what linux-image-amd64 depends on,
// then for every matching name, newest ABI number first.
func findKernelPackage(ctx context.Context) (string, error) {
	if out, err := runCmd(ctx, "", "apt-cache", "depends", "linux-image-amd64"); err == nil {
		if name := newestKernelPackage(dependsNames(out)); name != "" {
			return name, nil
		}
	}
	out, err := runCmd(ctx, "", "apt-cache", "search", "--names-only", kernelPackageRE.String())
	if err != nil {
		return "", err
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(line, " ")
		names = append(names, name)
	}
	if name := newestKernelPackage(names); name != "" {
		return name, nil
	}
	return "", fmt.Errorf("apt knows no package matching %s", kernelPackageRE)
}

// dependsNames returns the package names of "Depends:" lines in the output
// of apt-cache depends.
func dependsNames(out []byte) []string {
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "Depends: "); ok {
			names = append(names, strings.TrimSpace(name))
		}
	}
	return names
}

// newestKernelPackage returns the name matching kernelPackageRE with the
// highest ABI number, or "" when none matches.
func newestKernelPackage(names []string) string {
	type cand struct {
		name string
		abi  int
	}
	var cands []cand
	for _, n := range names {
		m := kernelPackageRE.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		abi, err := strconv.Atoi(m[1])
		if err != nil {
			continue
		}
		cands = append(cands, cand{n, abi})
	}
	if len(cands) == 0 {
		return ""
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].abi > cands[j].abi })
	return cands[0].name
}
