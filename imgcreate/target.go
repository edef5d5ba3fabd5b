package imgcreate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"instar/imglock"
)

// qemuProtocols are the protocol names qemu-img 7.2 knows besides file:
// a name that starts with one of them and a colon is that protocol's, not
// a local file, so instar refuses it rather than creating a file by that
// name.
var qemuProtocols = map[string]bool{
	"host_cdrom": true, "nbd": true, "nbd+tcp": true, "nbd+unix": true,
	"nfs": true, "ssh": true, "gluster": true, "gluster+tcp": true,
	"gluster+unix": true, "gluster+rdma": true, "iscsi": true, "iser": true,
	"rbd": true, "http": true, "https": true, "ftp": true, "ftps": true,
	"null-co": true, "null-aio": true, "blkdebug": true, "blkverify": true,
	"nvme": true, "fat": true, "throttle": true, "vxhs": true,
}

// localName is the local file a qemu-img file name stands for. As in
// qemu, a protocol prefix is a name before the first ':' with no '/'
// before it; "file:" is stripped (once), "host_device:" is stripped and
// requires a block device, and any other prefix is refused, with qemu's
// words: instar writes only local files.
func localName(name string) (path string, device bool, err error) {
	i := strings.IndexAny(name, ":/")
	if i < 0 || name[i] != ':' {
		return name, false, nil
	}
	switch proto := name[:i]; {
	case proto == "file":
		return name[i+1:], false, nil
	case proto == "host_device":
		return name[i+1:], true, nil
	case qemuProtocols[proto]:
		return "", false, fmt.Errorf("Protocol driver '%s' does not support image creation", proto)
	default:
		return "", false, fmt.Errorf("Unknown protocol '%s'", proto)
	}
}

// targetKind is what a create's file name names.
type targetKind int

const (
	// targetNew: nothing is there; the image is made under that name.
	targetNew targetKind = iota
	// targetFile: an existing regular file, which the image replaces.
	targetFile
	// targetDevice: a block device, which the image is written into.
	targetDevice
)

// target is one file a create writes, classified before anything is
// written.
type target struct {
	// name is the file name as the user gave it, for messages.
	name string
	// path is the file actually written: symbolic links in the last
	// component followed, as open(2) follows them for qemu-img.
	path string
	kind targetKind
	// f is the existing file or device, opened read-write (nil when new).
	f *os.File
	// st is f's status.
	st unix.Stat_t
	// size is a device's size in bytes.
	size uint64
	// lock is f's share of QEMU's image locks (nil when the file system
	// has none); closing f drops it.
	lock *imglock.Lock
}

// maxLinks is how many symbolic links are followed, as Linux does.
const maxLinks = 40

// errnoText is an errno in qemu's words (strerror's capital letter).
func errnoText(err error) string {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	s := errno.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// couldNotCreate is qemu's message for a file it cannot open to create.
func couldNotCreate(name string, err error) error {
	return fmt.Errorf("Could not create '%s': %s", name, errnoText(err))
}

// resolve follows symbolic links in the last component of name, as
// open(2) does: a dangling link names the file to create.
func resolve(name string) (string, error) {
	path := name
	for i := 0; ; i++ {
		fi, err := os.Lstat(path)
		if errors.Is(err, os.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", errors.Unwrap(err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return path, nil
		}
		if i == maxLinks {
			return "", unix.ELOOP
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", errors.Unwrap(err)
		}
		// Relative to the link's directory, joined as the kernel walks
		// it: "a/../b" is not "b" when a is itself a link.
		if !filepath.IsAbs(link) {
			link = path[:strings.LastIndexByte(path, '/')+1] + link
		}
		path = link
	}
}

// openTarget classifies the file a create is to write, as qemu-img's
// open would find it: a new file, an existing regular file the caller may
// write, or a block device. Anything else is refused before anything is
// written. A character device or FIFO is never opened: opening some
// devices has effects of its own (a watchdog, a tape).
func openTarget(name string, wantDevice bool) (*target, error) {
	if name == "" {
		return nil, couldNotCreate(name, unix.ENOENT)
	}
	path, err := resolve(name)
	if err != nil {
		return nil, couldNotCreate(name, err)
	}
	t := &target{name: name, path: path}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) && !wantDevice {
			return t, nil // created in its directory, which may not exist
		}
		return nil, couldNotCreate(name, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		t.kind = targetFile
	case unix.S_IFBLK:
		t.kind = targetDevice
	case unix.S_IFDIR:
		return nil, couldNotCreate(name, unix.EISDIR)
	case unix.S_IFCHR:
		return nil, fmt.Errorf("Could not create '%s': it is a character device; an image goes in a regular file or a block device", name)
	case unix.S_IFIFO:
		return nil, fmt.Errorf("Could not create '%s': it is a FIFO; an image goes in a regular file or a block device", name)
	default:
		return nil, fmt.Errorf("Could not create '%s': not a regular file or block device", name)
	}
	if wantDevice && t.kind != targetDevice {
		return nil, fmt.Errorf("'host_device' driver requires '%s' to be a block device", path)
	}
	// O_RDWR as qemu opens it, so the caller's right to write is the
	// kernel's answer; O_NOFOLLOW, so a link swapped in since is not
	// followed; O_EXCL on a device refuses one the kernel is using
	// (mounted, in an array or volume group).
	flags := unix.O_RDWR | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if t.kind == targetDevice {
		flags |= unix.O_EXCL
	}
	fd, err := unix.Open(path, flags, 0)
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("Could not create '%s': the device is in use (mounted, or part of an array or volume group)", name)
		}
		return nil, couldNotCreate(name, err)
	}
	if err := unix.Fstat(fd, &t.st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	if t.st.Dev != st.Dev || t.st.Ino != st.Ino {
		unix.Close(fd)
		return nil, fmt.Errorf("Could not create '%s': it changed while being opened", name)
	}
	// Writes block as usual from here on.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	t.f = os.NewFile(uintptr(fd), path)
	// A file a running QEMU uses is refused as qemu-img refuses it, and
	// one started while the create runs sees the create's use of it.
	if t.lock, err = imglock.Acquire(t.f, imglock.Create); err != nil && !errors.Is(err, imglock.ErrUnsupported) {
		t.f.Close()
		return nil, fmt.Errorf("%w (is another process using the image?)", err)
	}
	if t.kind == targetDevice {
		end, err := t.f.Seek(0, 2)
		if err != nil {
			t.f.Close()
			return nil, fmt.Errorf("size of device %s: %w", name, err)
		}
		t.size = uint64(end)
	}
	return t, nil
}

// close closes the target's descriptor, if it has one.
func (t *target) close() error {
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}
