// Package formats is the format table: for each image format instar
// creates, its name and number, whether it takes a backing file, its
// options (kind, default, allowed words and what each maps to, the
// CreateConfig field or flag it fills, help text) and the files it
// consists of. imgopt, the config builder in imgcreate and the guest's
// generated header (tools/cheader) are all driven by it.
package formats

import (
	"fmt"
	"strconv"
	"strings"

	"instar/shared"
)

// OptionKind is a creation option's value type, as `-o help` names it.
type OptionKind uint8

// Option kinds.
const (
	KindString OptionKind = iota
	KindSize
	KindNumber
	KindBool
)

func (k OptionKind) String() string {
	return [...]string{"str", "size", "num", "bool (on/off)"}[k]
}

// Word is one allowed value of a string option and the number the guest
// gets for it.
type Word struct {
	Name  string
	Value uint32
}

// Option is one creation option of a format.
type Option struct {
	Name string
	Kind OptionKind
	Help string
	// Default is the value when the option is not set, in the option's
	// own syntax; empty means the option has no value of its own (size,
	// the backing file).
	Default string
	// Shown prints Default in the "Formatting" line when the option is
	// not set, as qemu-img does for some options only.
	Shown bool
	// Words are the values a string option allows; Decimal lets it take
	// a decimal number besides.
	Words   []Word
	Decimal bool
	// Field is the CreateConfig field the value fills (a value too wide
	// for it is clamped to its largest, which no planner accepts), or
	// Flag the bit set when the value is not zero. Neither: the option is
	// the host's (size, backing file).
	Field string
	Flag  uint32
}

// Value is the number the guest gets for the option's value s, which is
// in canonical form (sizes and numbers in decimal).
func (o *Option) Value(s string) (uint64, error) {
	switch o.Kind {
	case KindSize, KindNumber:
		return strconv.ParseUint(s, 10, 64)
	case KindBool:
		on, err := ParseBool(s)
		if on {
			return 1, err
		}
		return 0, err
	}
	for _, w := range o.Words {
		if w.Name == s {
			return uint64(w.Value), nil
		}
	}
	if o.Decimal {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || strconv.FormatUint(n, 10) != s {
			return 0, fmt.Errorf("invalid %s '%s'", o.Name, s)
		}
		return n, nil
	}
	return 0, fmt.Errorf("invalid value '%s' for option '%s'", s, o.Name)
}

// ParseBool parses an on/off value the ways qemu accepts.
func ParseBool(s string) (bool, error) {
	switch s {
	case "on", "yes", "true", "y":
		return true, nil
	case "off", "no", "false", "n":
		return false, nil
	}
	return false, fmt.Errorf("'%s' is not on or off", s)
}

// Extent is one file of a multi-file image besides its first.
type Extent struct {
	Name string
	Size uint64
	// Flat extents hold only data: their size is exactly what the guest
	// may write to them.
	Flat bool
	// DataFile marks a qcow2 external data file: Name is a path as the
	// user gave it (relative to the working directory, as qemu-img
	// creates it), and the host grows the file to the length the guest
	// reports as qemu's file driver grows a file, with the image's
	// preallocation mode (metadata meaning none).
	DataFile bool
}

// Format is everything the host knows of one image format.
type Format struct {
	Name   string
	Number uint32
	// OnHost formats have no format logic (raw): the host makes them, as
	// qemu-img does, and no guest runs.
	OnHost bool
	// Backing says whether the format records a backing file;
	// BackingEvenUnsafe that it reads it even with -u (vmdk records the
	// backing file's CID).
	Backing, BackingEvenUnsafe bool
	// Options in the order of qemu-img's "Formatting" line.
	Options []Option
	// Extents, when set, lists the files the image has beside its first
	// (named from base, the first file's base name), and whether the
	// first is then only a descriptor.
	Extents func(base string, cfg *shared.CreateConfig) (descriptorOnly bool, extents []Extent, err error)
	// MaxSize is the largest virtual size qemu 7.2 creates in the format,
	// and ReadMax the largest it opens: its block layer's limit
	// (BdrvMaxLength) or the format's own where that is lower (qemu opens
	// a vhdx larger than the 64 TiB it creates). SizeSlack is how much the
	// format may add to a size asked for (vpc's geometry: at most one
	// cylinder of 16 heads of 255 sectors).
	MaxSize, ReadMax, SizeSlack uint64
}

// BdrvMaxLength is qemu's BDRV_MAX_LENGTH: INT64_MAX aligned down to 1 GiB.
const BdrvMaxLength = 1<<63 - 1 - (1<<30 - 1)

// Option returns the named option.
func (f *Format) Option(name string) (*Option, bool) {
	for i := range f.Options {
		if f.Options[i].Name == name {
			return &f.Options[i], true
		}
	}
	return nil, false
}

const (
	helpSize        = "Virtual disk size"
	helpBackingFile = "File name of a base image"
)

var (
	prealloc = []Word{{"off", shared.PreallocOff}, {"metadata", shared.PreallocMetadata}, {"falloc", shared.PreallocFalloc}, {"full", shared.PreallocFull}}
	onOff    = "off"
	vhdWords = []Word{{"dynamic", shared.VhdDynamic}, {"fixed", shared.VhdFixed}}
)

// All lists every format instar creates, in the order help texts name
// them.
var All = []*Format{
	{Name: "raw", Number: shared.FormatRaw, OnHost: true, MaxSize: BdrvMaxLength, ReadMax: BdrvMaxLength, Options: []Option{
		{Name: "size", Kind: KindSize, Help: helpSize},
		{Name: "preallocation", Kind: KindString, Help: "Preallocation mode (allowed values: off, falloc, full)",
			Default: "off", Words: []Word{prealloc[0], prealloc[2], prealloc[3]}, Field: "Preallocation"},
	}},
	{Name: "qcow2", Number: shared.FormatQcow2, Backing: true, Extents: qcow2DataFile, MaxSize: BdrvMaxLength, ReadMax: BdrvMaxLength, Options: []Option{
		{Name: "cluster_size", Kind: KindSize, Help: "qcow2 cluster size", Default: "65536", Shown: true, Field: "Qcow2ClusterSize"},
		{Name: "extended_l2", Kind: KindBool, Help: "Extended L2 tables", Default: onOff, Shown: true, Flag: shared.FlagExtendedL2},
		{Name: "preallocation", Kind: KindString, Help: "Preallocation mode (allowed values: off, metadata, falloc, full)",
			Default: "off", Words: prealloc, Field: "Preallocation"},
		{Name: "compression_type", Kind: KindString, Help: "Compression method used for image cluster compression",
			Default: "zlib", Shown: true, Words: []Word{{"zlib", 0}, {"zstd", 1}}, Flag: shared.FlagCompressionZstd},
		{Name: "size", Kind: KindSize, Help: helpSize},
		{Name: "compat", Kind: KindString, Help: "Compatibility level (v2 [0.10] or v3 [1.1])",
			Default: "1.1", Words: []Word{{"0.10", 0}, {"v2", 0}, {"1.1", 1}, {"v3", 1}}, Flag: shared.FlagCompatV3},
		{Name: "backing_file", Kind: KindString, Help: helpBackingFile},
		{Name: "backing_fmt", Kind: KindString, Help: "Image format of the base image"},
		{Name: "data_file", Kind: KindString, Help: "File name of an external data file"},
		{Name: "data_file_raw", Kind: KindBool, Help: "The external data file must stay valid as a raw image", Default: onOff, Flag: shared.FlagDataFileRaw},
		{Name: "lazy_refcounts", Kind: KindBool, Help: "Postpone refcount updates", Default: onOff, Shown: true, Flag: shared.FlagLazyRefcounts},
		{Name: "refcount_bits", Kind: KindNumber, Help: "Width of a reference count entry in bits", Default: "16", Shown: true, Field: "Qcow2RefcountBits"},
	}},
	{Name: "vmdk", Number: shared.FormatVmdk, Backing: true, BackingEvenUnsafe: true, Extents: vmdkExtents, MaxSize: BdrvMaxLength, ReadMax: BdrvMaxLength, Options: []Option{
		{Name: "size", Kind: KindSize, Help: helpSize},
		{Name: "adapter_type", Kind: KindString, Help: "Virtual adapter type, can be one of ide (default), lsilogic, buslogic or legacyESX",
			Default: "ide", Words: []Word{{"ide", shared.VmdkAdapterIDE}, {"lsilogic", shared.VmdkAdapterLsiLogic}, {"buslogic", shared.VmdkAdapterBusLogic}, {"legacyESX", shared.VmdkAdapterLegacyESX}},
			Field: "VmdkAdapterType"},
		{Name: "backing_file", Kind: KindString, Help: helpBackingFile},
		{Name: "backing_fmt", Kind: KindString, Help: "Must be 'vmdk' if present"},
		{Name: "compat6", Kind: KindBool, Help: "VMDK version 6 image", Default: onOff, Shown: true, Flag: shared.FlagVmdkCompat6},
		{Name: "hwversion", Kind: KindString, Help: "VMDK hardware version", Default: "undefined", Shown: true,
			Words: []Word{{"undefined", 0}}, Decimal: true, Field: "VmdkHwversion"},
		{Name: "toolsversion", Kind: KindString, Help: "VMware guest tools version", Default: "2147483647", Decimal: true, Field: "VmdkToolsversion"},
		{Name: "subformat", Kind: KindString, Help: "VMDK flat extent format, can be one of {monolithicSparse (default) | monolithicFlat | twoGbMaxExtentSparse | twoGbMaxExtentFlat | streamOptimized} ",
			Default: "monolithicSparse", Words: []Word{{"monolithicSparse", shared.VmdkMonolithicSparse}, {"monolithicFlat", shared.VmdkMonolithicFlat},
				{"twoGbMaxExtentSparse", shared.VmdkTwoGbMaxExtentSparse}, {"twoGbMaxExtentFlat", shared.VmdkTwoGbMaxExtentFlat}, {"streamOptimized", shared.VmdkStreamOptimized}},
			Field: "VmdkSubformat"},
		{Name: "zeroed_grain", Kind: KindBool, Help: "Enable efficient zero writes using the zeroed-grain GTE feature", Default: onOff, Flag: shared.FlagVmdkZeroedGrain},
	}},
	{Name: "vpc", Number: shared.FormatVpc, MaxSize: 0xff000000 * 512, ReadMax: 0xff000000 * 512, SizeSlack: 16 * 255 * 512, Options: []Option{
		{Name: "size", Kind: KindSize, Help: helpSize},
		{Name: "subformat", Kind: KindString, Help: "Type of virtual hard disk format. Supported formats are {dynamic (default) | fixed} ",
			Default: "dynamic", Words: vhdWords, Field: "VhdSubformat"},
		{Name: "force_size", Kind: KindBool, Help: "Force disk size calculation to use the actual size specified, rather than using the nearest CHS-based calculation",
			Default: onOff, Flag: shared.FlagForceSize},
	}},
	{Name: "vhdx", Number: shared.FormatVhdx, MaxSize: 64 << 40, ReadMax: BdrvMaxLength, Options: []Option{
		{Name: "size", Kind: KindSize, Help: "Virtual disk size; max of 64TB."},
		{Name: "log_size", Kind: KindSize, Help: "Log size; min 1MB.", Default: "1048576", Shown: true, Field: "VhdxLogSize"},
		{Name: "block_size", Kind: KindSize, Help: "Block Size; min 1MB, max 256MB. 0 means auto-calculate based on image size.", Default: "0", Shown: true, Field: "BlockSize"},
		{Name: "subformat", Kind: KindString, Help: "VHDX format type, can be either 'dynamic' or 'fixed'. Default is 'dynamic'.",
			Default: "dynamic", Words: vhdWords, Field: "VhdSubformat"},
		{Name: "block_state_zero", Kind: KindBool, Help: "Force use of payload blocks of type 'ZERO'. Non-standard, but default.  Do not set to 'off' when using 'qemu-img convert' with subformat=dynamic.",
			Default: "on", Flag: shared.FlagVhdxBlockStateZero},
	}},
}

// Named returns the format called name.
func Named(name string) (*Format, bool) {
	for _, f := range All {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}

// qcow2DataFile is qemu-img's rule for a qcow2 external data file: the
// file named by data_file, "file:" stripped, relative to the working
// directory (not the image's). The guest writes at most one cluster past
// the virtual size there (the zeros of a partial last cluster).
func qcow2DataFile(base string, cfg *shared.CreateConfig) (bool, []Extent, error) {
	if cfg.DataFileLen == 0 {
		return false, nil, nil
	}
	size := min(cfg.VirtualSize, 1<<63-1)
	size += min(uint64(cfg.Qcow2ClusterSize), 1<<63-size)
	return false, []Extent{{Name: string(cfg.DataFile[:cfg.DataFileLen]), Size: size, Flat: true, DataFile: true}}, nil
}

// vmdkExtentMax is the most a twoGbMaxExtent extent holds.
const vmdkExtentMax = 2 << 30

// vmdkExtents is qemu-img's rule for the multi-file vmdk subformats: a
// descriptor, and extents named after the image's base name split at its
// last '.', with "-flat", "-sNNN" or "-fNNN" inserted ("disk.vmdk" ->
// "disk-s001.vmdk").
func vmdkExtents(base string, cfg *shared.CreateConfig) (bool, []Extent, error) {
	sub := cfg.VmdkSubformat
	if sub != shared.VmdkMonolithicFlat && sub != shared.VmdkTwoGbMaxExtentSparse && sub != shared.VmdkTwoGbMaxExtentFlat {
		return false, nil, nil
	}
	stem, ext := base, ""
	if dot := strings.LastIndexByte(base, '.'); dot >= 0 {
		stem, ext = base[:dot], base[dot:]
	}
	size := cfg.VirtualSize
	if size <= 1<<64-512 {
		size = (size + 511) &^ 511
	}
	if sub == shared.VmdkMonolithicFlat {
		if size == 0 {
			return true, nil, nil
		}
		return true, []Extent{{Name: stem + "-flat" + ext, Size: size, Flat: true}}, nil
	}
	if n := size/vmdkExtentMax + min(size%vmdkExtentMax, 1); n > shared.MaxOutputs-1 {
		return true, nil, fmt.Errorf("%d extent files; instar writes at most %d", n, shared.MaxOutputs-1)
	}
	letter := map[uint8]string{shared.VmdkTwoGbMaxExtentSparse: "s", shared.VmdkTwoGbMaxExtentFlat: "f"}[sub]
	var extents []Extent
	for off := uint64(0); off < size; off += vmdkExtentMax {
		extents = append(extents, Extent{
			Name: fmt.Sprintf("%s-%s%03d%s", stem, letter, len(extents)+1, ext),
			Size: min(vmdkExtentMax, size-off),
			Flat: sub == shared.VmdkTwoGbMaxExtentFlat,
		})
	}
	return true, extents, nil
}
