package imgcreate

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"instar/shared"
)

// createRaw makes a raw image on the host: there is no format logic in a
// raw image, so there is nothing for a guest to do (qemu-img does the same).
func createRaw(ctx context.Context, r Request, size uint64, res *Result) error {
	o, _ := r.Options.Def().Option("preallocation")
	n, err := optionValue(r.Options, o)
	mode := uint8(n)
	if err != nil {
		if v, _ := r.Options.Get("preallocation"); v == "metadata" {
			return errors.New("preallocation mode 'metadata' is not supported by the raw format")
		}
		return err
	}
	res.VirtualSize, res.FileSize = size, size
	return withTempFile(r.Filename, r.BeforeNamed, func(f *os.File) error {
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
		return preallocate(ctx, f, mode, 0, size, r.OnProgress)
	})
}

// firstBlock is how much of a new raw image qemu-img allocates.
const firstBlock = 4096

// zeroChunk is how much preallocation=full writes at a time.
const zeroChunk = 4 << 20

// preallocate allocates [start, end) of the file: with falloc by
// fallocate, with full by writing zeros, as qemu's file driver does. The
// guest's planner keeps this area clear of metadata.
func preallocate(ctx context.Context, f *os.File, mode uint8, start, end uint64, progress func(done, total uint64)) error {
	if end <= start {
		return nil
	}
	switch mode {
	case shared.PreallocFalloc:
		if err := unix.Fallocate(int(f.Fd()), 0, int64(start), int64(end-start)); err != nil {
			return fmt.Errorf("preallocate %d bytes: %w", end-start, err)
		}
	case shared.PreallocFull:
		zeros := make([]byte, min(zeroChunk, end-start))
		for p := start; p < end; {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("preallocation interrupted: %w", err)
			}
			n := min(uint64(len(zeros)), end-p)
			if _, err := f.WriteAt(zeros[:n], int64(p)); err != nil {
				return fmt.Errorf("preallocate at %d: %w", p, err)
			}
			p += n
			if progress != nil {
				progress(p-start, end-start)
			}
		}
	}
	return nil
}
