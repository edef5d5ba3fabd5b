// Package imglock takes and checks the byte-range locks by which QEMU
// processes (qemu, qemu-img, qemu-io, qemu-nbd) tell each other how they
// use an image file, so that instar, opening an image a running VM uses,
// behaves as qemu-img does: it fails where qemu-img fails, and a VM started
// while instar reads the image sees instar's use of it.
//
// The protocol is QEMU's file driver's. Each permission a user of the file
// may hold has a bit, i, and two bytes of the file: one at 100+i and one
// at 200+i. A user that holds permission i takes a shared (read) lock on
// byte 100+i; a user that does not let others hold permission i takes a
// shared lock on byte 200+i. Before it goes on, a user checks that nobody
// else locked 200+i for a permission it holds, nor 100+i for one it does
// not share. The locks are open file description (OFD) locks: they belong
// to the open file, not to the process, and go when it is closed. Nothing
// ever takes an exclusive lock: the checks only test whether one could be
// had.
package imglock

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Perm is a set of permissions on an image, as QEMU's block layer names
// them.
type Perm uint64

// The permissions, in QEMU's bit order.
const (
	// ConsistentRead: reading gives what was last written.
	ConsistentRead Perm = 1 << iota
	// Write changes the image's contents.
	Write
	// WriteUnchanged writes data that does not change what a reader sees.
	WriteUnchanged
	// Resize changes the image's size.
	Resize

	// All is every permission.
	All = ConsistentRead | Write | WriteUnchanged | Resize
)

// permNames are the permissions' names in QEMU's messages, by bit.
var permNames = [...]string{"consistent read", "write", "write unchanged", "resize"}

// The bytes of the protocol: permBase+i for a permission held,
// sharedBase+i for a permission not shared.
const (
	permBase   = 100
	sharedBase = 200
)

// Info is how qemu-img info uses an image it opens: it holds no
// permission, and shares all but writing and resizing, which it refuses
// to run beside (seen in qemu-img 7.2's own locking, byte for byte).
var Info = Use{Perm: 0, Shared: ConsistentRead | WriteUnchanged}

// Create is how qemu-img create uses an existing file it writes the image
// into: it writes and resizes it, and will not run beside another user
// that resizes it.
var Create = Use{Perm: Write | Resize, Shared: All &^ Resize}

// Use is how one user of an image uses it: the permissions it holds and
// those it lets others hold.
type Use struct {
	Perm, Shared Perm
}

// Lock is the locks held on one open file.
type Lock struct {
	f     *os.File
	bytes []int64
}

// ConflictError is a permission another user of the file holds or refuses
// to share.
type ConflictError struct {
	// Perm is the permission in question.
	Perm string
	// Shared is set when instar would not share Perm and another user
	// holds it; otherwise another user refuses to share Perm, which
	// instar would hold.
	Shared bool
}

func (e *ConflictError) Error() string {
	if e.Shared {
		return fmt.Sprintf("Failed to get shared %q lock", e.Perm)
	}
	return fmt.Sprintf("Failed to get %q lock", e.Perm)
}

// ErrUnsupported is returned by Acquire when the file system offers no OFD
// locks; QEMU then does not lock either.
var ErrUnsupported = errors.New("the file system has no open file description locks")

// Acquire takes u's locks on f and checks that no other user of the file
// conflicts with u. On a conflict it releases what it took and returns a
// *ConflictError, which reads as QEMU's message. A file system without OFD
// locks gives ErrUnsupported and no locks, as QEMU goes on without them.
func Acquire(f *os.File, u Use) (*Lock, error) {
	if !supported(f) {
		return nil, ErrUnsupported
	}
	l := &Lock{f: f}
	for i := 0; i < len(permNames); i++ {
		bit := Perm(1) << i
		if u.Perm&bit != 0 {
			if err := l.take(permBase + int64(i)); err != nil {
				return nil, err
			}
		}
		if u.Shared&bit == 0 {
			if err := l.take(sharedBase + int64(i)); err != nil {
				return nil, err
			}
		}
	}
	if err := check(f, u); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// Release drops the locks; closing the file drops them too.
func (l *Lock) Release() error {
	var first error
	for _, b := range l.bytes {
		if err := setlk(l.f, unix.F_UNLCK, b); err != nil && first == nil {
			first = fmt.Errorf("unlock byte %d: %w", b, err)
		}
	}
	l.bytes = nil
	return first
}

// take takes a shared lock on byte b, releasing everything taken so far
// if it cannot.
func (l *Lock) take(b int64) error {
	if err := setlk(l.f, unix.F_RDLCK, b); err != nil {
		l.Release()
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return fmt.Errorf("Failed to lock byte %d", b)
		}
		return fmt.Errorf("Failed to lock byte %d: %w", b, err)
	}
	l.bytes = append(l.bytes, b)
	return nil
}

// check tests, in QEMU's order, whether another user refuses to share a
// permission u holds, then whether another holds one u does not share.
func check(f *os.File, u Use) error {
	for i := 0; i < len(permNames); i++ {
		if u.Perm&(1<<i) != 0 {
			if err := test(f, sharedBase+int64(i), &ConflictError{Perm: permNames[i]}); err != nil {
				return err
			}
		}
	}
	for i := 0; i < len(permNames); i++ {
		if u.Shared&(1<<i) == 0 {
			if err := test(f, permBase+int64(i), &ConflictError{Perm: permNames[i], Shared: true}); err != nil {
				return err
			}
		}
	}
	return nil
}

// test reports conflict if another open file holds a lock on byte b: an
// exclusive lock there could not be had.
func test(f *os.File, b int64, conflict *ConflictError) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: b, Len: 1}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return fmt.Errorf("%s: %w", conflict.Error(), err)
	}
	if lk.Type != unix.F_UNLCK {
		return conflict
	}
	return nil
}

func setlk(f *os.File, typ int16, b int64) error {
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: b, Len: 1}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
}

// supported asks the kernel whether f takes OFD locks, as QEMU does, with
// a test that locks nothing.
func supported(f *os.File) bool {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk) == nil
}
