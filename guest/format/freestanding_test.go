package format

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"instar/tools/guestbuild"
)

// Every C file of the library compiles as guest code: freestanding, no
// libc, no SSE, warnings as errors, and calls nothing but memcpy, memmove,
// memset, memcmp (from guest/lib) and the library's own functions.
func TestFreestandingBuild(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal("gcc is needed (mage check installs it)")
	}
	srcs, err := filepath.Glob("*.c")
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no C sources: %v", err)
	}
	dir := t.TempDir()
	defined := map[string]bool{"memcpy": true, "memmove": true, "memset": true, "memcmp": true}
	undefined := map[string][]string{}
	for _, src := range srcs {
		obj := filepath.Join(dir, strings.TrimSuffix(src, ".c")+".o")
		args := append(append([]string{}, guestbuild.CFlags...), "-I", "../include", "-c", src, "-o", obj)
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", src, err, out)
			continue
		}
		out, err := exec.Command("nm", obj).Output()
		if err != nil {
			t.Fatalf("nm %s: %v", obj, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 2 && f[0] == "U":
				undefined[f[1]] = append(undefined[f[1]], src)
			case len(f) == 3 && strings.ContainsAny(f[1], "TDRB"):
				defined[f[2]] = true
			}
		}
	}
	for sym, users := range undefined {
		if !defined[sym] {
			t.Errorf("%s needs %s, which neither the library nor guest/lib defines", strings.Join(users, ", "), sym)
		}
	}
}
