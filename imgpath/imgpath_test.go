package imgpath

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRules: which names open, and the rule each refusal names.
func TestRules(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	allow := filepath.Join(dir, "allow")
	for _, d := range []string{img, allow, filepath.Join(img, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(img, "base"), filepath.Join(img, "sub", "b"), filepath.Join(allow, "a")} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"in":      "base",        // stays inside
		"out":     "/etc/passwd", // absolute: leaves
		"up":      "../allow/a",  // leaves the image's directory, into an allowed one
		"sub/esc": "../../x",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(img, name)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := New(filepath.Join(img, "image.qcow2"), []string{allow})
	if err != nil {
		t.Fatal(err)
	}
	const (
		opens    = ""
		outside  = "it lies outside the image's directory and every --allow-path directory"
		protocol = "a name with a protocol prefix is never interpreted"
		link     = "it is reached through a symbolic link that leaves the image's directory and every --allow-path directory"
	)
	for _, c := range []struct{ stored, full, rule string }{
		{"base", filepath.Join(img, "base"), opens},
		{"sub/b", filepath.Join(img, "sub/b"), opens},
		{"sub/../base", filepath.Join(img, "sub/../base"), opens},
		{"in", filepath.Join(img, "in"), opens},
		{allow + "/a", allow + "/a", opens},
		{"../allow/a", filepath.Join(img, "../allow/a"), opens},
		{"/etc/passwd", "/etc/passwd", outside},
		{"/nonexistent/x", "/nonexistent/x", outside},
		{"../x", filepath.Join(img, "../x"), outside},
		{"sub/../../x", filepath.Join(img, "sub/../../x"), outside},
		{img, img, outside}, // the directory itself is not beneath it
		{"json:{}", "json:{}", protocol},
		{"nbd:host:1", "nbd:host:1", protocol},
		{"file:base", "file:base", protocol},
		{"out", filepath.Join(img, "out"), link},
		{"up", filepath.Join(img, "up"), link},
		{"sub/esc", filepath.Join(img, "sub/esc"), link},
	} {
		f, err := r.Open("backing file", c.stored, c.full)
		var refused *RefusedError
		switch {
		case c.rule == opens && err != nil:
			t.Errorf("%q: %v; want it opened", c.stored, err)
		case c.rule == opens:
			f.Close()
		case !errors.As(err, &refused) || refused.Rule != c.rule || refused.Stored != c.stored || refused.Kind != "backing file":
			t.Errorf("%q: %v; want refused: %s", c.stored, err, c.rule)
		}
	}
}

func TestMissingFileInside(t *testing.T) {
	dir := t.TempDir()
	r, err := New(filepath.Join(dir, "i"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Open("extent file", "gone", filepath.Join(dir, "gone"))
	if want := "Could not open '" + filepath.Join(dir, "gone") + "': No such file or directory"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
