package vmm

import (
	"fmt"
	"io"
	"sync/atomic"
)

// writerDepth bounds the writes copied out and not yet done: a guest that
// writes faster than the host waits at the next write.
const writerDepth = 4

// outputWriter does the guest's output writes, in order, on a goroutine of
// its own, so that the guest runs on to its next exit while the host
// writes. Each write is copied out of guest memory first (the guest may
// reuse its buffer once it is resumed) and reported done at once; the
// first failure is kept, stops the run at the next exit, and is the run's
// error, so a failed write is never lost, and it names the host's error
// (no space left on device, say) rather than the guest's "write failed".
type outputWriter struct {
	jobs   chan writeJob
	free   chan []byte // copy buffers for reuse
	done   chan struct{}
	failed atomic.Bool
	err    error // the first failure; read once failed is set or done closed
}

type writeJob struct {
	w      io.WriterAt
	device uint32
	off    int64
	buf    []byte
}

func newOutputWriter() *outputWriter {
	ow := &outputWriter{
		jobs: make(chan writeJob, writerDepth),
		free: make(chan []byte, writerDepth+1),
		done: make(chan struct{}),
	}
	go ow.run()
	return ow
}

func (ow *outputWriter) run() {
	defer close(ow.done)
	for j := range ow.jobs {
		if !ow.failed.Load() {
			if _, err := j.w.WriteAt(j.buf, j.off); err != nil {
				ow.err = fmt.Errorf("write %d bytes at offset %d of output %d: %w", len(j.buf), j.off, j.device, err)
				ow.failed.Store(true)
			}
		}
		select {
		case ow.free <- j.buf:
		default:
		}
	}
}

// write queues a copy of data for output device at off.
func (ow *outputWriter) write(w io.WriterAt, device uint32, off uint64, data []byte) {
	var buf []byte
	select {
	case buf = <-ow.free:
	default:
	}
	ow.jobs <- writeJob{w: w, device: device, off: int64(off), buf: append(buf[:0], data...)}
}

// check returns the first failure so far, if any.
func (ow *outputWriter) check() error {
	if ow.failed.Load() {
		return ow.err
	}
	return nil
}

// finish waits for every queued write and returns the first failure.
func (ow *outputWriter) finish() error {
	close(ow.jobs)
	<-ow.done
	return ow.err
}
