package imgcreate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// entries lists a directory's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// withTempFiles opens the targets and writes them with writeOutputs.
func withTempFiles(names []string, beforeNamed func(), fill func([]*os.File) error) error {
	var targets []*target
	for _, name := range names {
		t, err := openTarget(name, false)
		if err != nil {
			return err
		}
		defer t.close()
		targets = append(targets, t)
	}
	return writeOutputs(context.Background(), targets, beforeNamed, fill, nil)
}

// TestWithTempFiles covers success, replacing a file, and failure, with
// unnamed (O_TMPFILE) and named temporary files: names appear only on
// success, and only after beforeNamed has run.
func TestWithTempFiles(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(map[bool]string{false: "unnamed", true: "named"}[named], func(t *testing.T) {
			noTmpfile = named
			defer func() { noTmpfile = false }()
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
			if err := os.WriteFile(a, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			calls := 0
			before := func() {
				calls++
				if !named && !slices.Equal(entries(t, dir), []string{"a"}) {
					t.Errorf("names before beforeNamed: %v", entries(t, dir))
				}
			}
			// Failure: nothing changes, nothing is left.
			boom := errors.New("boom")
			err := withTempFiles([]string{a, b}, before, func(fs []*os.File) error {
				fs[0].WriteString("new a")
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v", err)
			}
			if got := entries(t, dir); !slices.Equal(got, []string{"a"}) {
				t.Errorf("after a failure the directory holds %v", got)
			}
			if data, _ := os.ReadFile(a); string(data) != "old" {
				t.Errorf("a is %q after a failure", data)
			}
			if named != (calls == 1) {
				t.Errorf("beforeNamed ran %d times on a failure", calls)
			}
			// Success: a replaced, b made.
			calls = 0
			err = withTempFiles([]string{a, b}, before, func(fs []*os.File) error {
				fs[0].WriteString("new a")
				fs[1].WriteString("new b")
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if calls != 1 {
				t.Errorf("beforeNamed ran %d times", calls)
			}
			if got := entries(t, dir); !slices.Equal(got, []string{"a", "b"}) {
				t.Errorf("directory holds %v", got)
			}
			for name, want := range map[string]string{a: "new a", b: "new b"} {
				if data, _ := os.ReadFile(name); string(data) != want {
					t.Errorf("%s is %q, want %q", name, data, want)
				}
			}
		})
	}
}
