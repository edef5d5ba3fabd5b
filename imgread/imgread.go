// Package imgread is the host side of the info operation: it runs the
// info guest over an open image file, decodes and checks what the guest
// reports, and returns it as imginfo's QAPI-shaped ImageInfo. The host
// never reads the image's bytes; it adds only what qemu-img takes from
// the host (the file's name and the space it takes on disk).
package imgread

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"instar/embed"
	"instar/imginfo"
	"instar/imgpath"
	"instar/shared"
	"instar/shared/formats"
	"instar/shared/guestmsg"
	"instar/vmm"
)

// guestBinaries returns core and the info operation from the bundle.
func guestBinaries() (core, op []byte, err error) { return embed.Guest("info") }

// Start begins setting up an info guest on acc, so that its set-up
// overlaps the caller's opening of the file.
func Start(acc vmm.Accelerator) *vmm.Guest { return vmm.Start(acc, guestBinaries) }

// Request is one image to read.
type Request struct {
	Context context.Context
	// Name is the image's name as given on the command line: what
	// qemu-img prints as its filename and resolves a relative backing
	// file name against.
	Name string
	// File is the image, open read-only.
	File *os.File
	// Format is the format given with -f, or "" to probe in the guest.
	Format string
	// Deadline bounds the guest's run; zero is the VMM's default.
	Deadline time.Duration
	// OpenExtent opens, read-only, a file the image names that qemu-img
	// info opens too (a vmdk descriptor's extent files), by its name as
	// stored and as qemu resolves it against the image's name: the
	// caller's rules decide. Read stats it, and gives it to a second
	// guest when the guest reads it (a sparse extent). Nil refuses them
	// all.
	OpenExtent func(stored, full string) (*os.File, error)
	// Accel is the accelerator of that second guest run: the first names
	// the extent files, the second reads them.
	Accel vmm.Accelerator
}

// errorTexts are the host's words for the info error codes the guest
// sends without a reason of its own.
var errorTexts = map[uint32]string{
	shared.InfoErrReadFailed:  "could not read the image",
	shared.InfoErrInvalid:     "the image is not valid",
	shared.InfoErrUnknownFmt:  "format not supported",
	shared.InfoErrUnsupported: "the image is in a format instar cannot read",
	shared.InfoErrBadConfig:   "the guest refused its configuration",
	shared.InfoErrTooBig:      "the image's tables are larger than instar reports",
	shared.InfoErrNeedExtents: "the image's extent files are needed to read it",
}

// unreadable are the image formats qemu-img 7.2 reads that instar does
// not read yet.
var unreadable = map[string]bool{"qcow": true, "qed": true, "vdi": true, "parallels": true, "luks": true,
	"bochs": true, "cloop": true, "dmg": true}

// Read runs g (from Start) over r's image and returns its information.
func Read(g *vmm.Guest, r Request) (*imginfo.ImageInfo, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(r.File.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat %q: %w", r.Name, err)
	}
	size, err := r.File.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("size of %q: %w", r.Name, err)
	}
	cfg := shared.InfoConfig{Magic: shared.InfoConfigMagic}
	if r.Format != "" {
		def, ok := formats.Named(r.Format)
		switch {
		case !ok && unreadable[r.Format]:
			return nil, fmt.Errorf("instar cannot read %s images", r.Format)
		case !ok:
			return nil, fmt.Errorf("Unknown driver '%s'", r.Format)
		}
		cfg.Format = def.Number
	}
	image := vmm.Input{R: r.File, Size: uint64(size), SectorSize: 512}
	res, err := g.Run(vmm.Config{Context: r.Context, OperationConfig: shared.Encode(&cfg),
		Inputs: []vmm.Input{image}, Deadline: r.Deadline})
	if err != nil {
		return nil, err
	}
	// opened are the extent files a second run was given, in the
	// image's order.
	var opened []*os.File
	defer func() {
		for _, f := range opened {
			f.Close()
		}
	}()
	if m, _ := result(res); m != nil && m.Error == shared.InfoErrNeedExtents {
		names, err := extentNames(res, m)
		if err != nil {
			return nil, err
		}
		if r.Accel == nil {
			return nil, errors.New("the image's extent files need a second guest run")
		}
		g2 := Start(r.Accel)
		defer g2.Release()
		// Opened in order up to the first that fails, as qemu opens
		// them: the guest reads those, and reports whether it needed
		// the one that failed before finding the image invalid.
		var openErr error
		for _, n := range names {
			if r.OpenExtent == nil {
				openErr = fmt.Errorf("extent file '%s' is not opened", n)
				break
			}
			f, err := r.OpenExtent(n, FullBackingName(r.Name, n))
			if err != nil {
				openErr = err
				break
			}
			opened = append(opened, f)
		}
		table, data, err := extentDevices(opened)
		if err != nil {
			return nil, err
		}
		cfg.Flags |= shared.InfoFlagExtents
		res, err = g2.Run(vmm.Config{Context: r.Context, OperationConfig: shared.Encode(&cfg),
			Inputs: []vmm.Input{image, table, data}, Deadline: r.Deadline})
		if err != nil {
			return nil, err
		}
		if m, _ := result(res); m != nil && m.Error == shared.InfoErrNeedExtents {
			if openErr != nil {
				return nil, openErr
			}
			return nil, errors.New("the info guest asked for the extent files it was given")
		}
	}
	info, names, err := decode(res)
	if err != nil {
		return nil, err
	}
	info.Filename = r.Name
	actual := st.Blocks * 512
	if v, ok := info.FormatSpecific.(*imginfo.ImageInfoSpecificVMDK); ok {
		for k := range v.Extents {
			v.Extents[k].Filename = r.Name
			if names[k] == nil {
				continue
			}
			// qemu's vmdk reports the descriptor's and every extent
			// file's allocation together.
			full := FullBackingName(r.Name, *names[k])
			var blocks int64
			if k < len(opened) {
				blocks, err = fileBlocks(opened[k], *names[k])
			} else {
				blocks, err = extentBlocks(r.OpenExtent, *names[k], full)
			}
			if err != nil {
				return nil, err
			}
			actual += blocks * 512
			v.Extents[k].Filename = full
		}
	}
	info.ActualSize = &actual
	if info.BackingFilename != nil {
		full := FullBackingName(r.Name, *info.BackingFilename)
		info.FullBackingFilename = &full
	}
	return info, nil
}

// extentNames are the names of the extent files the guest asks for.
func extentNames(res *vmm.Result, m *guestmsg.InfoResultMessage) ([]string, error) {
	var names []string
	for _, msg := range res.Messages {
		e := msg.GetExtent()
		if e == nil || e.Index != uint32(len(names))+1 {
			return nil, errors.New("the info guest asked for extent files out of order")
		}
		names = append(names, string(e.Filename))
	}
	if uint32(len(names)) != m.Extents || len(names) == 0 {
		return nil, errors.New("the info guest's extent files and its count of them disagree")
	}
	return names, nil
}

// maxExtentBytes bounds the extent files' bytes given to the guest, as
// its parsers bound a file (READ_PADDED_MAX_SIZE).
const maxExtentBytes = 1 << 62

// extentDevices are the guest's input devices 1 and 2 for files: their
// table (shared.InfoExtentEntry each) and their bytes, one after another.
func extentDevices(files []*os.File) (table, data vmm.Input, err error) {
	d := &extentData{files: files}
	var tb bytes.Buffer
	var off int64
	for _, f := range files {
		size, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return table, data, fmt.Errorf("size of extent file %q: %w", f.Name(), err)
		}
		if size > maxExtentBytes-off {
			return table, data, errors.New("the extent files are larger than instar reads")
		}
		d.offs, d.sizes = append(d.offs, off), append(d.sizes, size)
		_ = binary.Write(&tb, binary.LittleEndian, shared.InfoExtentEntry{Offset: uint64(off), Size: uint64(size)})
		off += (size + 511) &^ 511
	}
	table = vmm.Input{R: bytes.NewReader(tb.Bytes()), Size: uint64(tb.Len()), SectorSize: 512}
	return table, vmm.Input{R: d, Size: uint64(off), SectorSize: 512}, nil
}

// extentData is the extent files end to end, each at its offset; what
// lies between two reads as zeros.
type extentData struct {
	files       []*os.File
	offs, sizes []int64
}

func (d *extentData) ReadAt(p []byte, off int64) (int, error) {
	for n := 0; n < len(p); {
		o := off + int64(n)
		i := sort.Search(len(d.offs), func(i int) bool { return d.offs[i]+d.sizes[i] > o })
		if i == len(d.offs) || o < d.offs[i] {
			end := int64(len(p))
			if i < len(d.offs) {
				end = min(end, d.offs[i]-off)
			}
			clear(p[n:end])
			n = int(end)
			continue
		}
		k := int(min(int64(len(p)-n), d.offs[i]+d.sizes[i]-o))
		m, err := d.files[i].ReadAt(p[n:n+k], o-d.offs[i])
		if m < k {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF // the file shrank
			}
			return n + m, err
		}
		n += k
	}
	return len(p), nil
}

// extentBlocks opens an extent file through open and returns its
// allocated 512-byte blocks.
func extentBlocks(open func(stored, full string) (*os.File, error), stored, full string) (int64, error) {
	if open == nil {
		return 0, fmt.Errorf("extent file '%s' is not opened", stored)
	}
	f, err := open(stored, full)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return fileBlocks(f, stored)
}

// fileBlocks is f's allocated 512-byte blocks.
func fileBlocks(f *os.File, stored string) (int64, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return 0, fmt.Errorf("stat extent file '%s': %w", stored, err)
	}
	return st.Blocks, nil
}

// FullBackingName is qemu's bdrv_make_absolute_filename: a name with a
// protocol prefix or an absolute path as it is, any other relative to
// the directory of the image's name. It is text only: nothing is opened.
func FullBackingName(image, backing string) string {
	if backing == "" || strings.HasPrefix(backing, "/") || imgpath.HasProtocol(backing) {
		return backing
	}
	if i := strings.LastIndexByte(image, '/'); i >= 0 {
		return image[:i+1] + backing
	}
	return backing
}

// decode checks and converts what the guest reported; names are the
// extents' file names as stored (nil: the image file itself).
func decode(res *vmm.Result) (*imginfo.ImageInfo, []*string, error) {
	mp, err := result(res)
	if err != nil {
		return nil, nil, err
	}
	m := *mp
	if m.Error != shared.InfoErrOK {
		if n := len(res.Errors); n > 0 {
			return nil, nil, fmt.Errorf("%s", vmm.Printable(res.Errors[n-1].GetMessage()))
		}
		if t, ok := errorTexts[m.Error]; ok {
			return nil, nil, fmt.Errorf("%s", t)
		}
		return nil, nil, fmt.Errorf("info failed (error %d)", m.Error)
	}
	if m.VirtualSize > 1<<63-1 || m.ClusterSize > 1<<63-1 {
		return nil, nil, fmt.Errorf("the info guest reported a size out of range")
	}
	info := &imginfo.ImageInfo{Format: m.Format, VirtualSize: int64(m.VirtualSize)}
	if m.HasClusterSize {
		cs := int64(m.ClusterSize)
		info.ClusterSize = &cs
	}
	if m.HasDirtyFlag {
		d := m.DirtyFlag
		info.DirtyFlag = &d
	}
	if m.Encrypted {
		t := true
		info.Encrypted = &t
	}
	if m.HasBackingFilename {
		s := string(m.BackingFilename)
		info.BackingFilename = &s
		if m.HasBackingFormat {
			f := string(m.BackingFormat)
			info.BackingFilenameFormat = &f
		}
	}
	var snaps []imginfo.SnapshotInfo
	var bitmaps []imginfo.QCow2BitmapInfo
	var extents []imginfo.ImageInfo
	var names []*string
	for _, msg := range res.Messages {
		switch {
		case msg.GetSnapshot() != nil:
			snaps = append(snaps, snapshot(msg.GetSnapshot()))
		case msg.GetBitmap() != nil:
			b := msg.GetBitmap()
			if b.GranularityBits > 31 {
				return nil, nil, fmt.Errorf("the info guest reported a bitmap granularity out of range")
			}
			flags := []string{}
			if b.InUse {
				flags = append(flags, "in-use")
			}
			if b.Auto {
				flags = append(flags, "auto")
			}
			bitmaps = append(bitmaps, imginfo.QCow2BitmapInfo{Name: string(b.Name), Granularity: 1 << b.GranularityBits, Flags: flags})
		case msg.GetExtent() != nil:
			e := msg.GetExtent()
			if e.VirtualSize > 1<<63-1 || e.ClusterSize > 1<<63-1 {
				return nil, nil, fmt.Errorf("the info guest reported an extent size out of range")
			}
			x := imginfo.ImageInfo{Format: string(e.Type), VirtualSize: int64(e.VirtualSize)}
			if e.HasClusterSize {
				cs := int64(e.ClusterSize)
				x.ClusterSize = &cs
			}
			if e.Compressed {
				t := true
				x.Compressed = &t
			}
			// The image itself (index 0, alone), or extent files 1.. in order.
			if e.Index != uint32(len(extents))+1 && (e.Index != 0 || len(extents) > 0 || m.Extents != 1) {
				return nil, nil, fmt.Errorf("the info guest sent its extents out of order")
			}
			extents = append(extents, x)
			var name *string
			if e.Index > 0 {
				n := string(e.Filename)
				name = &n
			}
			names = append(names, name)
		default:
			return nil, nil, fmt.Errorf("the info guest sent a message info does not use")
		}
	}
	if uint32(len(snaps)) != m.Snapshots || uint32(len(bitmaps)) != m.Bitmaps || uint32(len(extents)) != m.Extents {
		return nil, nil, fmt.Errorf("the info guest's tables and its counts of them disagree")
	}
	if len(snaps) > 0 {
		info.Snapshots = snaps
	}
	switch m.Format {
	case "qcow2":
		q := &imginfo.ImageInfoSpecificQCow2{RefcountBits: int64(m.Qcow2RefcountBits), CompressionType: "zlib"}
		if m.Qcow2CompressionType == 1 {
			q.CompressionType = "zstd"
		}
		if m.Qcow2Version == 2 {
			q.Compat = "0.10"
		} else {
			q.Compat = "1.1"
			lazy, corrupt, ext := m.Qcow2LazyRefcounts, m.Qcow2Corrupt, m.Qcow2ExtendedL2
			q.LazyRefcounts, q.Corrupt, q.ExtendedL2 = &lazy, &corrupt, &ext
			if len(bitmaps) > 0 {
				q.Bitmaps = bitmaps
			}
		}
		if m.HasQcow2DataFile {
			df := string(m.Qcow2DataFile)
			q.DataFile = &df
		}
		if m.HasQcow2DataFileRaw {
			raw := m.Qcow2DataFileRaw
			q.DataFileRaw = &raw
		}
		if m.Qcow2EncryptMethod == 1 {
			q.Encrypt = &imginfo.QCow2Encryption{Format: "aes"}
		}
		info.FormatSpecific = q
	case "vmdk":
		info.FormatSpecific = &imginfo.ImageInfoSpecificVMDK{CreateType: string(m.VmdkCreateType),
			CID: int64(uint32(m.VmdkCid)), ParentCID: int64(uint32(m.VmdkParentCid)), Extents: extents}
	}
	return info, names, nil
}

// result is the guest's InfoResultMessage.
func result(res *vmm.Result) (*guestmsg.InfoResultMessage, error) {
	if res.Complete == nil || res.Complete.Result == nil {
		reason := ""
		if n := len(res.Errors); n > 0 {
			reason = ": " + vmm.Printable(res.Errors[n-1].GetMessage())
		}
		return nil, fmt.Errorf("the info guest completed without a result%s", reason)
	}
	var m guestmsg.InfoResultMessage
	if err := m.Unmarshal(res.Complete.Result); err != nil {
		return nil, fmt.Errorf("the info guest's result does not decode: %w", err)
	}
	return &m, nil
}

func snapshot(s *guestmsg.SnapshotMessage) imginfo.SnapshotInfo {
	out := imginfo.SnapshotInfo{
		ID: string(s.Id), Name: string(s.Name),
		VMStateSize: int64(s.VmStateSize), DateSec: int64(uint32(s.DateSec)), DateNsec: int64(uint32(s.DateNsec)),
		VMClockSec: int64(s.VmClockNsec / 1e9), VMClockNsec: int64(s.VmClockNsec % 1e9),
	}
	if s.HasIcount {
		ic := int64(s.Icount)
		out.ICount = &ic
	}
	return out
}
