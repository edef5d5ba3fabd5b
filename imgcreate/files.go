package imgcreate

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// dataFile: a qcow2 external data file, grown by growDataFile.
	dataFile bool
}

// outputFiles lists the files a create writes: the image, and the extents
// of a multi-file format (the format table names them). The guest lays
// them out; the host decides which files exist and bounds what the guest
// may write to each.
func outputFiles(image string, format *formats.Format, cfg *shared.CreateConfig) ([]outputFile, error) {
	files := []outputFile{{name: image, limit: outputLimit(cfg)}}
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
		name := filepath.Join(dir, e.Name)
		if e.DataFile {
			name = e.Name
		}
		files = append(files, outputFile{name: name, limit: limit, dataFile: e.DataFile})
	}
	return files, nil
}

// output is one file a create writes: its target, and the file the image
// is built in (the stage).
type output struct {
	t     *target
	stage *tempFile
	// inPlace: the stage is elsewhere (the temporary directory), and the
	// image is copied over the target at the end, as qemu-img writes it:
	// for a block device, and for an existing file that cannot be
	// replaced faithfully (its directory takes no new file, or its owner
	// cannot be given to a new one).
	inPlace bool
}

// final is the file that holds the image once the stages are copied: the
// target itself for a regular file written in place, else the stage.
func (o *output) final() *os.File {
	if o.inPlace && o.t.kind == targetFile {
		return o.t.f
	}
	return o.stage.f
}

// newOutput makes the stage for t: beside it where it can be renamed into
// place keeping an existing file's mode and owner, else in the temporary
// directory.
func newOutput(t *target, beforeNamed func()) (*output, error) {
	if t.kind == targetDevice {
		return stageElsewhere(t, beforeNamed)
	}
	stage, err := newTempFile(t.path, beforeNamed)
	if err != nil {
		if t.kind == targetFile && (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EROFS)) {
			return stageElsewhere(t, beforeNamed)
		}
		return nil, couldNotCreate(t.name, err)
	}
	o := &output{t: t, stage: stage}
	if t.kind == targetFile {
		if err := keepModeAndOwner(stage.f, &t.st); err != nil {
			stage.close()
			if errors.Is(err, unix.EPERM) {
				// Not ours to give away: write in place, as qemu-img
				// does, which keeps both.
				return stageElsewhere(t, beforeNamed)
			}
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return o, nil
}

// stageElsewhere makes the stage in the temporary directory ($TMPDIR).
func stageElsewhere(t *target, beforeNamed func()) (*output, error) {
	stage, err := newTempFile(filepath.Join(os.TempDir(), "instar-stage"), beforeNamed)
	if err != nil {
		return nil, fmt.Errorf("create a temporary file in %s to build %s in: %s", os.TempDir(), t.name, errnoText(err))
	}
	return &output{t: t, stage: stage, inPlace: true}, nil
}

// keepModeAndOwner gives f the owner, group and mode of st, in that
// order: a change of owner clears the set-id bits the mode may restore.
func keepModeAndOwner(f *os.File, st *unix.Stat_t) error {
	var now unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &now); err != nil {
		return fmt.Errorf("stat the new file: %w", err)
	}
	if now.Uid != st.Uid || now.Gid != st.Gid {
		if err := unix.Fchown(int(f.Fd()), int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("give the new file the old one's owner: %w", err)
		}
	}
	if err := unix.Fchmod(int(f.Fd()), st.Mode&0o7777); err != nil {
		return fmt.Errorf("give the new file the old one's mode: %w", err)
	}
	return nil
}

// writeOutputs writes a create's files. fill writes the images into the
// stages; size then sets each final file's length and allocation (for a
// file written in place, after the stage's contents are on it). Each file
// is synced (fdatasync) before it gets its name, and its directory after,
// so after a crash there is the old file or the complete new one. Names
// are given last to first, so the first file (the one a user opens)
// appears only once everything it refers to is there, and durably so.
//
// Where the file system allows, a stage is made with O_TMPFILE: it has no
// name until it is complete, so a process killed at any point before
// leaves nothing behind. Elsewhere it is a named temporary file, removed
// on failure. beforeNamed, when set, is called before any file gets a
// name of any kind, and before any target is written in place (the
// command makes sure its interrupt handler is in place by then).
//
// size gets ctx, except where a target is written in place: from the
// first byte written to it, the write goes to the end, so that no target
// is left half-written by an interrupt (as no name is left half-made).
func writeOutputs(ctx context.Context, targets []*target, beforeNamed func(), fill func(stages []*os.File) error, size func(ctx context.Context, finals []*os.File) error) (err error) {
	once := func() {
		if beforeNamed != nil {
			beforeNamed()
			beforeNamed = nil
		}
	}
	outs := make([]*output, 0, len(targets))
	defer func() {
		for _, o := range outs {
			if cerr := o.stage.close(); err == nil && cerr != nil {
				err = fmt.Errorf("close image: %w", cerr)
			}
		}
	}()
	for _, t := range targets {
		o, err := newOutput(t, once)
		if err != nil {
			return err
		}
		outs = append(outs, o)
	}
	stages := make([]*os.File, len(outs))
	for i, o := range outs {
		stages[i] = o.stage.f
	}
	if fill != nil {
		if err := fill(stages); err != nil {
			return err
		}
	}
	finals := make([]*os.File, len(outs))
	for i, o := range outs {
		if o.inPlace && o.t.kind == targetFile {
			ctx = context.WithoutCancel(ctx)
			// The point of no return for this file: it is rewritten
			// from here on.
			once()
			if err := copyOver(o.t.f, o.stage.f, false); err != nil {
				return fmt.Errorf("write %s in place: %w", o.t.name, err)
			}
		}
		finals[i] = o.final()
	}
	if size != nil {
		if err := size(ctx, finals); err != nil {
			return err
		}
	}
	for _, o := range outs {
		if o.inPlace && o.t.kind == targetDevice {
			st, err := o.stage.f.Stat()
			if err != nil {
				return fmt.Errorf("stat image: %w", err)
			}
			if uint64(st.Size()) > o.t.size {
				return errors.New("Cannot grow device files")
			}
			once()
			if err := copyOver(o.t.f, o.stage.f, true); err != nil {
				return fmt.Errorf("write %s: %w", o.t.name, err)
			}
		}
	}
	for _, o := range outs {
		f := o.final()
		if o.inPlace {
			f = o.t.f
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return fmt.Errorf("sync %s: %w", o.t.name, err)
		}
	}
	once()
	// The extra files first, durably, then the image.
	if err := commit(outs[1:]); err != nil {
		return err
	}
	return commit(outs[:1])
}

// commit gives each output renamed into place its name, last to first,
// and then syncs their directories, so the names are on disk too.
func commit(outs []*output) error {
	dirs := map[string]bool{}
	for i := len(outs) - 1; i >= 0; i-- {
		o := outs[i]
		if o.inPlace {
			continue
		}
		if err := o.stage.commit(o.t.path); err != nil {
			return err
		}
		dirs[filepath.Dir(o.t.path)] = true
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// syncDir makes the directory's entries durable.
func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open directory %s to sync it: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// copyOver writes src's contents over dst from offset 0. A regular dst is
// first emptied, so src's holes stay holes; a device's (zeroHoles) are
// zeroed, since old contents there would be read as part of the image.
func copyOver(dst, src *os.File, zeroHoles bool) error {
	st, err := src.Stat()
	if err != nil {
		return err
	}
	length := st.Size()
	if !zeroHoles {
		if err := dst.Truncate(0); err != nil {
			return err
		}
	}
	for off := int64(0); off < length; {
		data, err := unix.Seek(int(src.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			data = length // no data past off
		} else if err != nil {
			return fmt.Errorf("find data in the image: %w", err)
		}
		data = min(data, length)
		if zeroHoles && data > off {
			if err := zeroRange(dst, off, data-off); err != nil {
				return err
			}
		}
		if data >= length {
			break
		}
		hole, err := unix.Seek(int(src.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("find holes in the image: %w", err)
		}
		hole = min(hole, length)
		if _, err := src.Seek(data, 0); err != nil {
			return err
		}
		if _, err := dst.Seek(data, 0); err != nil {
			return err
		}
		// io.Copy between files uses copy_file_range where it can.
		if n, err := io.Copy(dst, io.LimitReader(src, hole-data)); err != nil || n != hole-data {
			return fmt.Errorf("copy %d bytes at %d: %d copied: %v", hole-data, data, n, err)
		}
		off = hole
	}
	if !zeroHoles {
		return dst.Truncate(length)
	}
	return nil
}

// zeroRange zeroes n bytes of a device at off: by the device's own means
// where it has them, else by writing zeros.
func zeroRange(f *os.File, off, n int64) error {
	if unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_KEEP_SIZE, off, n) == nil {
		return nil
	}
	zeros := make([]byte, min(n, 1<<20))
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := f.WriteAt(zeros[:k], off); err != nil {
			return fmt.Errorf("zero %d bytes at %d: %w", k, off, err)
		}
		off, n = off+k, n-k
	}
	return nil
}

// tempFile is an image being written: unnamed (O_TMPFILE) or under a
// temporary name beside its final one.
type tempFile struct {
	f    *os.File
	path string // the temporary name, while it has one
}

// newTempFile makes an empty file in name's directory with the mode
// qemu-img gives a new file, 0644 less the umask. Its error is the
// system's, unwrapped, for the caller to word.
func newTempFile(name string, beforeNamed func()) (*tempFile, error) {
	dir := filepath.Dir(name)
	if !noTmpfile && procFDs() {
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o644)
		if err == nil {
			return &tempFile{f: os.NewFile(uintptr(fd), name)}, nil
		}
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EROFS) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil, err
		}
	}
	// The file system cannot (EOPNOTSUPP; EISDIR from kernels that ignore
	// the flag): fall back to a name.
	beforeNamed()
	for i := 0; ; i++ {
		tmp, err := tempName(name)
		if err != nil {
			return nil, err
		}
		fd, err := unix.Open(tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			return &tempFile{f: os.NewFile(uintptr(fd), tmp), path: tmp}, nil
		}
		if !errors.Is(err, unix.EEXIST) || i > 10 {
			return nil, err
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
