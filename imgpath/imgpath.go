// Package imgpath holds the rules on files named inside an image (a
// backing file, today): such a name is a plain local path, never a
// protocol; it is opened only when, resolved lexically before anything
// is looked up, it lies inside the directory of the image named on the
// command line or inside a directory the user allowed; and it is opened
// with openat2 beneath that directory, so that a symbolic link cannot
// lead out of it. A refusal names the name as stored and the rule, and
// never depends on whether a path outside exists.
package imgpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Rules are the directories files named inside images may be opened in.
type Rules struct {
	roots []string // absolute, lexically clean
}

// New returns the rules for the image named image on the command line,
// with the --allow-path directories allow. Nothing is looked up: the
// directories are made absolute against the working directory.
func New(image string, allow []string) (*Rules, error) {
	r := &Rules{}
	for _, d := range append([]string{filepath.Dir(image)}, allow...) {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("directory %q: %w", d, err)
		}
		r.roots = append(r.roots, abs)
	}
	return r, nil
}

// RefusedError is a name the rules do not let instar open.
type RefusedError struct {
	// Kind is what the image names ("backing file", "extent file");
	// Stored is the name as the image stores it; Rule is why it is not
	// opened.
	Kind, Stored, Rule string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s '%s' is not opened: %s", e.Kind, e.Stored, e.Rule)
}

// HasProtocol is qemu's test for a protocol prefix: a ':' before any '/'.
func HasProtocol(p string) bool {
	i := strings.IndexAny(p, ":/")
	return i >= 0 && p[i] == ':'
}

// Open opens, read-only, the file (of kind, such as "backing file") an
// image names as stored, which qemu would open as full (the name
// resolved against the naming image's own name), if the rules allow it:
// a *RefusedError when they do not, else qemu's words for a failed open
// of full.
func (r *Rules) Open(kind, stored, full string) (*os.File, error) {
	if HasProtocol(stored) || HasProtocol(full) {
		return nil, &RefusedError{kind, stored, "a name with a protocol prefix is never interpreted"}
	}
	abs, err := filepath.Abs(full) // lexical: Clean, against the working directory
	if err != nil {
		return nil, err
	}
	for _, root := range r.roots {
		rel, ok := beneath(root, abs)
		if !ok {
			continue
		}
		return openBeneath(root, rel, kind, stored, full)
	}
	return nil, &RefusedError{kind, stored, "it lies outside the image's directory and every --allow-path directory"}
}

// beneath says whether abs lies inside root (both clean and absolute),
// and its path relative to root.
func beneath(root, abs string) (string, bool) {
	if root == "/" {
		return strings.TrimPrefix(abs, "/"), abs != "/"
	}
	if !strings.HasPrefix(abs, root+"/") {
		return "", false
	}
	return abs[len(root)+1:], true
}

// openBeneath opens rel inside root, every component resolved by the
// kernel within root (RESOLVE_BENEATH: no "..", absolute link or link
// target that leaves it; no /proc magic links).
func openBeneath(root, rel, kind, stored, full string) (*os.File, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("Could not open '%s': %s", full, errText(err))
	}
	defer unix.Close(dir)
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(dir, rel, &how)
	switch {
	case errors.Is(err, unix.EXDEV):
		return nil, &RefusedError{kind, stored, "it is reached through a symbolic link that leaves the image's directory and every --allow-path directory"}
	case errors.Is(err, unix.ENOSYS):
		return nil, &RefusedError{kind, stored, "this kernel has no openat2, which instar needs to open it safely"}
	case err != nil:
		return nil, fmt.Errorf("Could not open '%s': %s", full, errText(err))
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, rel)), nil
}

// errText is an errno as C's strerror words it (capitalised).
func errText(err error) string {
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
