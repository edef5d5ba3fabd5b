package shared

// Image formats (CreateConfig.TargetFormat, CreateConfig.BackingFormat).
// Zero means unset.
const (
	FormatUnset = 0
	FormatRaw   = 1
	FormatQcow2 = 2
	FormatVmdk  = 3
	FormatVpc   = 4
	FormatVhdx  = 5
)

// CreateConfig flag bits (CreateConfig.Flags). Bit 3 is unused.
const (
	// FlagExtendedL2 turns on qcow2 extended L2 entries.
	FlagExtendedL2 = 1 << 0
	// FlagLazyRefcounts turns on qcow2 lazy refcounts.
	FlagLazyRefcounts = 1 << 1
	// FlagCompatV3 selects qcow2 compat 1.1 (version 3); clear means 0.10.
	FlagCompatV3 = 1 << 2
	// FlagBackingUnsafe means -u: the backing file is recorded, not opened.
	FlagBackingUnsafe = 1 << 4
	// FlagCompressionZstd selects qcow2 compression_type=zstd.
	FlagCompressionZstd = 1 << 5
	// FlagForceSize is vpc force_size=on: exact size, creator "qem2".
	FlagForceSize = 1 << 6
	// FlagVmdkCompat6 is vmdk compat6 (hwversion 6).
	FlagVmdkCompat6 = 1 << 7
	// FlagVmdkZeroedGrain is vmdk zeroed_grain=on.
	FlagVmdkZeroedGrain = 1 << 8
	// FlagVhdxBlockStateZero is vhdx block_state_zero=on.
	FlagVhdxBlockStateZero = 1 << 9
	// FlagProbeOnly asks the guest only to parse the backing file and
	// report its format and virtual size, writing nothing.
	FlagProbeOnly = 1 << 10
	// FlagSizeGiven means VirtualSize is the size to make, 0 included;
	// clear, the size is the backing file's (which the guest reads).
	FlagSizeGiven = 1 << 11
	// FlagDataFileRaw is qcow2 data_file_raw=on: the external data file
	// stays valid as a raw image.
	FlagDataFileRaw = 1 << 12
)

// Preallocation modes (CreateConfig.Preallocation).
const (
	PreallocOff      = 0
	PreallocMetadata = 1
	PreallocFalloc   = 2
	PreallocFull     = 3
)

// VMDK subformats (CreateConfig.VmdkSubformat).
const (
	VmdkMonolithicSparse     = 0
	VmdkStreamOptimized      = 1
	VmdkMonolithicFlat       = 2
	VmdkTwoGbMaxExtentSparse = 3
	VmdkTwoGbMaxExtentFlat   = 4
)

// VMDK adapter types (CreateConfig.VmdkAdapterType).
const (
	VmdkAdapterIDE       = 0
	VmdkAdapterLsiLogic  = 1
	VmdkAdapterBusLogic  = 2
	VmdkAdapterLegacyESX = 3
)

// VPC and VHDX subformats (CreateConfig.VhdSubformat).
const (
	VhdDynamic = 0
	VhdFixed   = 1
)

// CreateConfigMagic marks a valid CreateConfig ("CREA").
const CreateConfigMagic = 0x43524541

// CreateConfigMaxBackingFile is the longest backing file name, in bytes.
const CreateConfigMaxBackingFile = 1024

// CreateConfigMaxDataFile is the longest external data file name, in
// bytes.
const CreateConfigMaxDataFile = 1024

// CreateConfigMaxImageName is the longest image base name, in bytes.
const CreateConfigMaxImageName = 256

// CreateEntropySize is the number of random bytes the host supplies.
const CreateEntropySize = 32

// CreateConfig is the create operation's input, written by the host at
// OperationConfigAddr.
type CreateConfig struct {
	// Magic is CreateConfigMagic.
	Magic uint32
	// TargetFormat is the Format* of the image to create.
	TargetFormat uint32
	// Flags is a set of Flag* bits.
	Flags uint32
	// SectorSize is the output device's sector size.
	SectorSize uint32
	// VirtualSize is the disk size in bytes; in a FlagProbeOnly run, 0
	// means "from the backing file" (the probe reports it).
	VirtualSize uint64
	// Qcow2ClusterSize is the qcow2 cluster size (the host sends the
	// default, 65536; 0 is refused, as qemu-img refuses it).
	Qcow2ClusterSize uint32
	// Qcow2RefcountBits is the refcount width (the host sends the
	// default, 16; 0 is refused).
	Qcow2RefcountBits uint8
	// VmdkSubformat is a Vmdk* subformat.
	VmdkSubformat uint8
	// VhdSubformat is VhdDynamic or VhdFixed (vpc and vhdx).
	VhdSubformat uint8
	// Pad is zero.
	Pad uint8
	// VmdkGrainSize is the vmdk grain size in bytes; 0 means 65536.
	VmdkGrainSize uint32
	// BlockSize is the vpc/vhdx block size; 0 means the format's default.
	BlockSize uint32
	// BackingFileLen is the length of BackingFile; 0 means no backing file.
	BackingFileLen uint32
	// BackingFile is the backing file name as the user typed it.
	BackingFile [CreateConfigMaxBackingFile]uint8
	// BackingFormat is the Format* of the backing file (-F).
	BackingFormat uint32

	// Preallocation is a Prealloc* mode.
	Preallocation uint8
	// VmdkAdapterType is a VmdkAdapter* value.
	VmdkAdapterType uint8
	// Reserved0 is zero.
	Reserved0 [2]uint8
	// VmdkHwversion is the vmdk hwversion; 0 means undefined (4).
	VmdkHwversion uint32
	// Timestamp is the wall-clock time in seconds since 1970, from the host
	// (SOURCE_DATE_EPOCH when set).
	Timestamp uint64
	// Entropy is random bytes from the host for UUIDs and CIDs.
	Entropy [CreateEntropySize]uint8
	// VmdkToolsversion is the vmdk toolsversion (default 2147483647).
	VmdkToolsversion uint32
	// VhdxLogSize is the vhdx log size in bytes.
	VhdxLogSize uint32
	// Reserved is zero, for fields added later.
	Reserved [64]uint8
	// ImageNameLen is the length of ImageName.
	ImageNameLen uint32
	// ImageName is the base name of the image file being created, which
	// vmdk descriptors name in their extent lines.
	ImageName [CreateConfigMaxImageName]uint8
	// DataFileLen is the length of DataFile; 0 means no external data
	// file.
	DataFileLen uint32
	// DataFile is the qcow2 external data file's name as the image
	// records it (qemu's: as given, "file:" stripped).
	DataFile [CreateConfigMaxDataFile]uint8
}

// CreateResult error codes. The host words them (imgcreate).
const (
	CreateErrOK                = 0
	CreateErrInvalidOption     = 1
	CreateErrInvalidSize       = 2
	CreateErrScratchTooSmall   = 3
	CreateErrBackingReadFailed = 4
	CreateErrBackingParse      = 5
	CreateErrBackingTooLong    = 6
	CreateErrWriteFailed       = 7
	CreateErrUnsupportedFormat = 8
	CreateErrBadConfig         = 9
	CreateErrBackingFormat     = 10
)

// CreateResultMagic marks a CreateResult ("CRES").
const CreateResultMagic = 0x43524553

// CreateResult is what the create operation hands to core's
// send_complete_create; core encodes it as a CreateResultMessage, the
// completion's result.
type CreateResult struct {
	Magic                uint32
	TargetFormat         uint32
	ResolvedVirtualSize  uint64
	MetadataBytesWritten uint64
	FileSizeAfter        uint64
	ResolvedUnitSize     uint32
	Error                uint32
	// BackingFormat is the Format* the guest detected in the backing file.
	BackingFormat uint32
	Reserved      uint32
	// PreallocStart and PreallocEnd bound the data area the host
	// preallocates (falloc, full); empty for other modes.
	PreallocStart uint64
	PreallocEnd   uint64
}
