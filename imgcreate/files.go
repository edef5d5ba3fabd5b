package imgcreate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"instar/shared"
	"instar/shared/formats"
)

// outputFile is one file the create guest writes, and how far it may.
type outputFile struct {
	name  string
	limit uint64
}

// outputFiles lists the files a create writes: the image, and the extents
// of a multi-file format (the format table names them). The guest lays
// them out; the host decides which files exist and bounds what the guest
// may write to each.
func outputFiles(image string, format *formats.Format, cfg *shared.CreateConfig) ([]outputFile, error) {
	files := []outputFile{{image, outputLimit(cfg)}}
	if format.Extents == nil {
		return files, nil
	}
	dir, base := filepath.Split(image)
	descriptorOnly, extents, err := format.Extents(base, cfg)
	if err != nil {
		return nil, err
	}
	if descriptorOnly {
		files[0].limit = 1 << 20
	}
	for _, e := range extents {
		limit := e.Size // a flat extent is its data, nothing more
		if !e.Flat {
			limit = e.Size + e.Size/8 + 16<<20
		}
		files = append(files, outputFile{filepath.Join(dir, e.Name), limit})
	}
	return files, nil
}

// withTempFile creates a temporary file beside name, lets fill write it,
// and gives it the name only if fill succeeds; otherwise it is removed.
func withTempFile(name string, beforeNamed func(), fill func(*os.File) error) error {
	return withTempFiles([]string{name}, beforeNamed, func(fs []*os.File) error { return fill(fs[0]) })
}

// withTempFiles does the same for several files. They are given their
// names last to first, so the first (the image a user opens) appears only
// once everything it refers to is there.
//
// Where the file system allows, each file is made with O_TMPFILE: it has
// no name until it is complete, so a process killed at any point before
// leaves nothing behind. Elsewhere it is a named temporary file, removed
// on failure. beforeNamed, when set, is called before any of the files
// gets a name of any kind (the command makes sure its interrupt handler is
// in place by then).
func withTempFiles(names []string, beforeNamed func(), fill func([]*os.File) error) (err error) {
	temps := make([]*tempFile, 0, len(names))
	defer func() {
		if err == nil {
			if beforeNamed != nil {
				beforeNamed()
				beforeNamed = nil
			}
			for i := len(temps) - 1; err == nil && i >= 0; i-- {
				err = temps[i].commit(names[i])
			}
		}
		for _, t := range temps {
			if cerr := t.close(); err == nil && cerr != nil {
				err = fmt.Errorf("close image: %w", cerr)
			}
		}
	}()
	for _, name := range names {
		t, err := newTempFile(name, func() {
			if beforeNamed != nil {
				beforeNamed()
				beforeNamed = nil
			}
		})
		if err != nil {
			return err
		}
		temps = append(temps, t)
	}
	files := make([]*os.File, len(temps))
	for i, t := range temps {
		files[i] = t.f
	}
	return fill(files)
}

// tempFile is an image being written: unnamed (O_TMPFILE) or under a
// temporary name beside its final one.
type tempFile struct {
	f    *os.File
	path string // the temporary name, while it has one
}

// newTempFile makes an empty file in name's directory with the permissions
// a new file gets (0666 less the umask), which os.CreateTemp would not give.
func newTempFile(name string, beforeNamed func()) (*tempFile, error) {
	dir := filepath.Dir(name)
	if !noTmpfile && procFDs() {
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o666)
		if err == nil {
			return &tempFile{f: os.NewFile(uintptr(fd), name)}, nil
		}
	}
	// The file system cannot (EOPNOTSUPP; EISDIR from kernels that ignore
	// the flag): fall back to a name. A missing directory or permission
	// fails that way too, with the error the user should see.
	beforeNamed()
	for i := 0; ; i++ {
		tmp, err := tempName(name)
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			return &tempFile{f: f, path: tmp}, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 10 {
			return nil, fmt.Errorf("create a temporary file in %s: %w", dir, errors.Unwrap(err))
		}
	}
}

// noTmpfile makes newTempFile take the named way, for tests.
var noTmpfile = false

// procFDs reports whether /proc/self/fd is there: an unnamed file is given
// its name through it, so without it the named way is taken.
var procFDs = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

// tempName is a fresh hidden name beside name: ".base.instar-<12 hex>".
func tempName(name string) (string, error) {
	dir, base := filepath.Split(name)
	var rnd [6]byte
	if err := randomBytes(rnd[:]); err != nil {
		return "", err
	}
	return filepath.Join(dir, fmt.Sprintf(".%s.instar-%x", base, rnd)), nil
}

// commit gives the file its final name, replacing any file of that name in
// one step.
func (t *tempFile) commit(name string) error {
	if t.path == "" {
		// Unnamed: link it in as name if that is free, else under a
		// temporary name to rename over it (a link cannot replace).
		proc := fmt.Sprintf("/proc/self/fd/%d", t.f.Fd())
		err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
		if err == nil {
			return nil
		}
		for i := 0; ; i++ {
			if !errors.Is(err, unix.EEXIST) || i > 10 {
				return fmt.Errorf("put %s in place: %w", name, err)
			}
			tmp, terr := tempName(name)
			if terr != nil {
				return terr
			}
			if err = unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW); err == nil {
				t.path = tmp
				break
			}
		}
	}
	if err := os.Rename(t.path, name); err != nil {
		return fmt.Errorf("put %s in place: %w", name, err)
	}
	t.path = ""
	return nil
}

// close closes the file and removes its temporary name, if it still has
// one; an unnamed file vanishes with its descriptor.
func (t *tempFile) close() error {
	err := t.f.Close()
	if t.path != "" {
		os.Remove(t.path)
	}
	return err
}

// randomBytes fills b from the kernel's random source.
func randomBytes(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Getrandom(b, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read random bytes: %w", err)
		}
		b = b[n:]
	}
	return nil
}
