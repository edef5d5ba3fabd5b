package imgcreate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"instar/cpupin"
	"instar/shared"
)

// createRaw makes a raw image on the host: there is no format logic in a
// raw image, so there is nothing for a guest to do (qemu-img does the same).
func createRaw(ctx context.Context, r Request, t *target, size uint64, res *Result) error {
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
	if t.kind == targetDevice {
		return rawOnDevice(r, t, mode, size, res)
	}
	return writeOutputs(ctx, []*target{t}, r.BeforeNamed, nil, func(ctx context.Context, fs []*os.File) error {
		f := fs[0]
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

// growDataFile grows a qcow2 external data file from what the guest
// wrote to size, as qemu's file driver truncates a file upwards: nothing
// when it is long enough already, else the length set and the growth
// preallocated in the image's mode (metadata: none), and the first block
// written when the file was empty and is not preallocated otherwise.
func growDataFile(ctx context.Context, f *os.File, mode uint8, size uint64, progress func(done, total uint64)) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	cur := uint64(st.Size())
	if size <= cur {
		return nil
	}
	if mode == shared.PreallocMetadata {
		mode = shared.PreallocOff
	}
	if err := f.Truncate(int64(size)); err != nil {
		return fmt.Errorf("set size: %w", err)
	}
	if mode == shared.PreallocOff && cur == 0 {
		if _, err := f.WriteAt(make([]byte, min(size, firstBlock)), 0); err != nil {
			return fmt.Errorf("write first block: %w", err)
		}
	}
	return preallocate(ctx, f, mode, cur, size, progress)
}

// rawOnDevice makes a raw image on a block device as qemu-img does: the
// device is not grown, not preallocated, and its first sector is zeroed
// (so no old header is read as the image's).
func rawOnDevice(r Request, t *target, mode uint8, size uint64, res *Result) error {
	if mode != shared.PreallocOff {
		word, _ := r.Options.Get("preallocation")
		return fmt.Errorf("Unsupported preallocation mode '%s'", word)
	}
	if size > t.size {
		return errors.New("Cannot grow device files")
	}
	if r.BeforeNamed != nil {
		r.BeforeNamed()
	}
	if n := min(t.size, 512); n > 0 {
		if _, err := t.f.WriteAt(make([]byte, n), 0); err != nil {
			return fmt.Errorf("zero the first sector: %w", err)
		}
	}
	if err := unix.Fdatasync(int(t.f.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", t.name, err)
	}
	res.FileSize = t.size
	return nil
}

// firstBlock is how much of a new raw image qemu-img allocates.
const firstBlock = 4096

// zeroPiece is the buffer preallocation=full writes zeros from: small
// enough to stay in the CPU's cache however much is written, as qemu's
// own 64 KiB. zeroWrite is how much one system call writes, the buffer
// given several times over: each blocking call costs the Go runtime a
// thread hand-off, so they are made few.
const (
	zeroPiece = 64 << 10
	zeroWrite = 1 << 20
)

// preallocate allocates [start, end) of the file: with falloc by
// fallocate, with full by writing zeros, as qemu's file driver does. The
// guest's planner keeps this area clear of metadata; zeros go only into
// the holes of the area, so nothing written there is overwritten.
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
		return onAnyCPU(func() error { return writeZeros(ctx, f, start, end, progress) })
	}
	return nil
}

// writeBehind is how far writeback of the zeros may lag behind the
// writing: each window of this size is handed to the disk as soon as it
// is written, and the one before it waited for, so the page cache holds
// at most two windows of dirty zeros. Left to the kernel, gigabytes of
// them pile up and the writer is throttled in bursts, the next command
// pays for their writeback, and the final sync waits for all of it.
const writeBehind = 64 << 20

// writeZeros fills the holes of [start, end) with zeros, in zeroPiece
// writes streamed to the disk, and syncs them; it tells progress how far
// it has come.
func writeZeros(ctx context.Context, f *os.File, start, end uint64, progress func(done, total uint64)) error {
	// One system call writes up to zeroWrite bytes, every piece from
	// the same zeroPiece buffer, which so stays in the CPU's cache.
	zeros := make([]byte, zeroPiece)
	iov := make([][]byte, zeroWrite/zeroPiece)
	fd := int(f.Fd())
	w := streamer{fd: fd, next: start}
	for p := start; p < end; {
		hole, holeEnd := nextHole(fd, p, end)
		for q := hole; q < holeEnd; {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("preallocation interrupted: %w", err)
			}
			// Pieces end on zeroPiece boundaries, so the file's blocks
			// are written whole.
			n, pieces := uint64(0), iov[:0]
			for len(pieces) < cap(pieces) && q+n < holeEnd {
				k := min(zeroPiece-(q+n)%zeroPiece, holeEnd-q-n)
				pieces = append(pieces, zeros[:k])
				n += k
			}
			wrote, err := unix.Pwritev(fd, pieces, int64(q))
			if err != nil {
				return fmt.Errorf("preallocate at %d: %w", q, err)
			}
			if wrote == 0 {
				return fmt.Errorf("preallocate at %d: no progress", q)
			}
			q += uint64(wrote) // a short write is carried on from where it stopped
			w.written(q)
			if progress != nil {
				progress(q-start, end-start)
			}
		}
		p = holeEnd
	}
	if err := unix.Fdatasync(fd); err != nil {
		return fmt.Errorf("sync the preallocated data: %w", err)
	}
	return nil
}

// streamer hands written data to the disk window by window (see
// writeBehind). Where sync_file_range cannot be used, the final sync
// does all the work.
type streamer struct {
	fd   int
	next uint64 // start of the window being written
	// prevStart and prevLen are the window last handed to the disk and
	// not yet waited for, when prevLen is not 0.
	prevStart, prevLen uint64
}

// written says the file is written up to end.
func (s *streamer) written(end uint64) {
	if end < s.next+writeBehind {
		return
	}
	if s.prevLen > 0 {
		// Wait for the window before: by now it is mostly on the disk.
		unix.SyncFileRange(s.fd, int64(s.prevStart), int64(s.prevLen),
			unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	}
	unix.SyncFileRange(s.fd, int64(s.next), int64(end-s.next), unix.SYNC_FILE_RANGE_WRITE)
	s.prevStart, s.prevLen = s.next, end-s.next
	s.next = end
}

// nextHole is the first hole at or after p, clipped to end, as [hole,
// holeEnd); (end, end) when there is none. A file that cannot say where
// its holes are (a block device, an old file system) is one hole: all of
// it is written.
func nextHole(fd int, p, end uint64) (uint64, uint64) {
	h, err := unix.Seek(fd, int64(p), unix.SEEK_HOLE)
	if err != nil {
		return p, end
	}
	hole := min(uint64(h), end)
	if hole >= end {
		return end, end
	}
	d, err := unix.Seek(fd, int64(hole), unix.SEEK_DATA)
	if err != nil || uint64(d) > end {
		// ENXIO: no data after the hole, which runs to the end.
		return hole, end
	}
	return hole, uint64(d)
}

// onAnyCPU runs fn on a thread of its own that may run on any CPU, and
// waits for it. A create binds itself to one CPU, which suits its few
// milliseconds of hand-offs, but a long stream of writes would then share
// that CPU with the Go runtime's own threads, which wake up around every
// system call that blocks.
func onAnyCPU(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		// The thread ends with this goroutine, since it is never unlocked:
		// no thread with a wider binding goes back to the runtime's pool.
		runtime.LockOSThread()
		cpupin.Anywhere()
		done <- fn()
	}()
	return <-done
}
