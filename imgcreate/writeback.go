package imgcreate

import (
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"instar/cpupin"
)

// kickPages is how many pages a guest run dirties in a file before its
// write-back is started: a small image is left to the sync at the end.
const kickPages = 256

// pageSize is the page cache's unit, which a write dirties whole.
var pageSize = int64(os.Getpagesize())

// earlyWriteback is an output file for a guest run that starts the
// kernel's write-back of what the run wrote, on a thread of its own that
// may run on any CPU (the command and its guest share one), while the run
// goes on. Preallocated metadata dirties tens of thousands of pages apart
// from one another; left to the fdatasync before the file is named, their
// write-back (a block allocated and an I/O submitted for each) waits until
// the guest is done, where started early it overlaps the guest's work and
// the host's writes. It is only a start: the fdatasync still makes the
// file durable, and a failed write-back shows there.
type earlyWriteback struct {
	f *os.File

	mu sync.Mutex
	// lo and hi bound what was written since the last kick; dirty is
	// how many pages that dirtied.
	lo, hi  int64
	dirty   int64
	kick    chan struct{}
	stopped chan struct{}
}

func newEarlyWriteback(f *os.File) *earlyWriteback {
	return &earlyWriteback{f: f}
}

// WriteAt writes p at off and, once enough pages are dirty, asks the
// write-back thread to start on them.
func (w *earlyWriteback) WriteAt(p []byte, off int64) (int, error) {
	n, err := w.f.WriteAt(p, off)
	if n <= 0 {
		return n, err
	}
	end := off + int64(n)
	w.mu.Lock()
	if w.dirty == 0 {
		w.lo, w.hi = off, end
	} else {
		w.lo, w.hi = min(w.lo, off), max(w.hi, end)
	}
	w.dirty += (end+pageSize-1)/pageSize - off/pageSize
	if w.dirty >= kickPages {
		if w.kick == nil {
			w.kick, w.stopped = make(chan struct{}, 1), make(chan struct{})
			go w.run(w.kick)
		}
		select {
		case w.kick <- struct{}{}:
		default: // a kick is pending; it will take this range too
		}
	}
	w.mu.Unlock()
	return n, err
}

// run starts the write-back of each range it is kicked for.
func (w *earlyWriteback) run(kick <-chan struct{}) {
	defer close(w.stopped)
	// The thread ends with this goroutine, as in onAnyCPU.
	runtime.LockOSThread()
	cpupin.Anywhere()
	for range kick {
		w.mu.Lock()
		lo, hi := w.lo, w.hi
		w.dirty = 0
		w.mu.Unlock()
		if hi > lo {
			// A hint only: an error here shows again in the fdatasync.
			_ = unix.SyncFileRange(int(w.f.Fd()), lo, hi-lo, unix.SYNC_FILE_RANGE_WRITE)
		}
	}
}

// stop ends the write-back thread, once it has started what it was
// kicked for. No WriteAt may be running or follow.
func (w *earlyWriteback) stop() {
	w.mu.Lock()
	kick := w.kick
	w.kick = nil
	w.mu.Unlock()
	if kick != nil {
		close(kick)
		<-w.stopped
	}
}
