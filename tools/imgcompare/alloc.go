package imgcompare

import (
	"encoding/binary"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FIEMAP (linux/fiemap.h): struct fiemap is 32 bytes, each struct
// fiemap_extent 56.
const (
	fsIocFiemap      = 0xC020660B
	fiemapFlagSync   = 0x1
	fiemapExtentLast = 0x1
	fiemapHeader     = 32
	fiemapExtent     = 56
	fiemapBatch      = 256
)

// allocated returns the bytes of the file's extents, written or
// preallocated (unwritten). Unlike st_blocks it leaves out the file
// system's own metadata: ext4 counts extent-tree blocks in st_blocks, and
// whether a file needs one depends on how fragmented the free space was
// when it was written, not on the image. ok is false where FIEMAP is not
// supported.
func allocated(path string) (n int64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	buf := make([]byte, fiemapHeader+fiemapBatch*fiemapExtent)
	var start uint64
	flags := uint32(fiemapFlagSync)
	for {
		clear(buf)
		binary.NativeEndian.PutUint64(buf[0:], start)
		binary.NativeEndian.PutUint64(buf[8:], ^uint64(0)-start)
		binary.NativeEndian.PutUint32(buf[16:], flags)
		binary.NativeEndian.PutUint32(buf[24:], fiemapBatch)
		_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&buf[0])))
		if e != 0 {
			return 0, false
		}
		mapped := binary.NativeEndian.Uint32(buf[20:])
		if mapped == 0 {
			return n, true
		}
		for i := 0; i < int(mapped); i++ {
			e := buf[fiemapHeader+i*fiemapExtent:]
			logical := binary.NativeEndian.Uint64(e[0:])
			length := binary.NativeEndian.Uint64(e[16:])
			n += int64(length)
			start = logical + length
			if binary.NativeEndian.Uint32(e[40:])&fiemapExtentLast != 0 {
				return n, true
			}
		}
		flags = 0
	}
}
