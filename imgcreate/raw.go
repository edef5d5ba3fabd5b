package imgcreate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"instar/shared"
)

// createRaw makes a raw image on the host: there is no format logic in a
// raw image, so there is nothing for a guest to do (qemu-img does the same).
func createRaw(ctx context.Context, r Request, size uint64, res *Result) error {
	mode, err := choice(r.Options, "preallocation", shared.PreallocOff, map[string]uint8{
		"off": shared.PreallocOff, "falloc": shared.PreallocFalloc, "full": shared.PreallocFull})
	if err != nil {
		if v, _ := r.Options.Get("preallocation"); v == "metadata" {
			return errors.New("preallocation mode 'metadata' is not supported by the raw format")
		}
		return err
	}
	res.VirtualSize, res.FileSize = size, size
	return withTempFile(r.Filename, func(f *os.File) error {
		if err := f.Truncate(int64(size)); err != nil {
			if errors.Is(err, unix.EFBIG) {
				return errors.New("the image size is too large for file format 'raw'")
			}
			return fmt.Errorf("set image size: %w", err)
		}
		if mode == shared.PreallocOff && size > 0 {
			// qemu-img writes the first block, so that tools probing
			// the file's allocation alignment find data there; the
			// allocated size must match.
			if _, err := f.WriteAt(make([]byte, min(size, firstBlock)), 0); err != nil {
				return fmt.Errorf("write first block: %w", err)
			}
		}
		cfg := &shared.CreateConfig{Preallocation: mode}
		return preallocate(ctx, f, cfg, size, r.OnProgress)
	})
}

// firstBlock is how much of a new raw image qemu-img allocates.
const firstBlock = 4096

// zeroChunk is how much preallocation=full writes at a time.
const zeroChunk = 4 << 20

// preallocate allocates the file's holes: with falloc by fallocate, with
// full by writing zeros into them. Data already written (metadata) is
// never touched.
func preallocate(ctx context.Context, f *os.File, cfg *shared.CreateConfig, size uint64, progress func(done, total uint64)) error {
	switch cfg.Preallocation {
	case shared.PreallocFalloc:
		if size == 0 {
			return nil
		}
		if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(size)); err != nil {
			return fmt.Errorf("preallocate %d bytes: %w", size, err)
		}
	case shared.PreallocFull:
		return fillHoles(ctx, f, size, progress)
	}
	return nil
}

func fillHoles(ctx context.Context, f *os.File, size uint64, progress func(done, total uint64)) error {
	zeros := make([]byte, zeroChunk)
	fd := int(f.Fd())
	off := int64(0)
	for off < int64(size) {
		hole, err := unix.Seek(fd, off, unix.SEEK_HOLE)
		if err != nil || hole >= int64(size) {
			break
		}
		data, err := unix.Seek(fd, hole, unix.SEEK_DATA)
		if err != nil || data > int64(size) {
			data = int64(size) // ENXIO: no data after the hole
		}
		for p := hole; p < data; {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("preallocation interrupted: %w", err)
			}
			n := min(int64(len(zeros)), data-p)
			if _, err := f.WriteAt(zeros[:n], p); err != nil {
				return fmt.Errorf("preallocate at %d: %w", p, err)
			}
			p += n
			if progress != nil {
				progress(uint64(p), size)
			}
		}
		off = data
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind image: %w", err)
	}
	return nil
}
