// Package imgread is the host side of the info operation: it runs the
// info guest over an open image file, decodes and checks what the guest
// reports, and returns it as imginfo's QAPI-shaped ImageInfo. The host
// never reads the image's bytes; it adds only what qemu-img takes from
// the host (the file's name and the space it takes on disk).
package imgread

import (
	"context"
	"fmt"
	"os"
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
	// caller's rules decide. Read only stats it. Nil refuses them all.
	OpenExtent func(stored, full string) (*os.File, error)
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
	size, err := r.File.Seek(0, 2)
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
	res, err := g.Run(vmm.Config{
		Context:         r.Context,
		OperationConfig: shared.Encode(&cfg),
		Inputs:          []vmm.Input{{R: r.File, Size: uint64(size), SectorSize: 512}},
		Deadline:        r.Deadline,
	})
	if err != nil {
		return nil, err
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
			blocks, err := extentBlocks(r.OpenExtent, *names[k], full)
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
	if res.Complete == nil || res.Complete.Result == nil {
		reason := ""
		if n := len(res.Errors); n > 0 {
			reason = ": " + vmm.Printable(res.Errors[n-1].GetMessage())
		}
		return nil, nil, fmt.Errorf("the info guest completed without a result%s", reason)
	}
	var m guestmsg.InfoResultMessage
	if err := m.Unmarshal(res.Complete.Result); err != nil {
		return nil, nil, fmt.Errorf("the info guest's result does not decode: %w", err)
	}
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
