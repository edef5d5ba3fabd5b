package shared

// InspectConfigMagic marks a valid InspectConfig ("INSP").
const InspectConfigMagic = 0x50534E49

// InspectConfig is the inspect operation's input, written by the host at
// OperationConfigAddr. The file is input device 0, read-only.
type InspectConfig struct {
	// Magic is InspectConfigMagic.
	Magic uint32
	// Flags is zero, for flags added later.
	Flags uint32
}

// The formats inspect recognises (InspectResultMessage.format, and bit
// 1<<n of its formats). The first five are the ones qemu-img info reads
// in the guest; the rest are recognised so that they are named rather
// than guessed as raw. InspectFormatNames holds each one's name.
const (
	InspectFmtRaw       = 0
	InspectFmtQcow2     = 1
	InspectFmtVmdk      = 2
	InspectFmtVpc       = 3
	InspectFmtVhdx      = 4
	InspectFmtQcow      = 5 // qcow version 1
	InspectFmtQed       = 6
	InspectFmtVdi       = 7
	InspectFmtLuks      = 8
	InspectFmtParallels = 9
	InspectFmtBochs     = 10
	InspectFmtCloop     = 11
	InspectFmtDmg       = 12
	InspectFmtIso       = 13 // ISO 9660 or UDF
	InspectFmtGpt       = 14 // an MBR or GPT partition table
	InspectFmtGzip      = 15
	InspectFmtXz        = 16
	InspectFmtZstd      = 17
	InspectFmtBzip2     = 18
	InspectFmtTar       = 19
	InspectFmtOva       = 20 // a tar whose first member is an .ovf
	InspectFmtCount     = 21
)

// InspectFormatNames is each InspectFmt*'s name, as qemu-img names the
// formats it has (vpc, not vhd) and as OpenStack's inspector names the
// rest (gpt, iso).
var InspectFormatNames = [InspectFmtCount]string{
	"raw", "qcow2", "vmdk", "vpc", "vhdx", "qcow", "qed", "vdi", "luks", "parallels",
	"bochs", "cloop", "dmg", "iso", "gpt", "gzip", "xz", "zstd", "bzip2", "tar", "ova",
}

// The safety checks (InspectFailureMessage.check). A check's name is
// OpenStack's format inspector's where it has one, so that its users
// map them one to one; InspectChecks holds each one's name and rule.
const (
	InspectCheckOpen              = 0  // qemu would refuse to open the image
	InspectCheckPolyglot          = 1  // more than one format claims the file
	InspectCheckBanned            = 2  // a format never accepted
	InspectCheckBackingFile       = 3  // the image names a backing (parent) file
	InspectCheckDataFile          = 4  // the image's data lives in another file
	InspectCheckDataFileExtension = 5  // data-file extension and feature bit disagree
	InspectCheckUnknownFeatures   = 6  // a version or feature qemu does not know
	InspectCheckDescriptor        = 7  // vmdk descriptor rules
	InspectCheckFooter            = 8  // vmdk streamOptimized footer rules
	InspectCheckMbr               = 9  // partition table rules
	InspectCheckVersion           = 10 // luks version other than 1
	InspectCheckProtocol          = 11 // a file name with a protocol prefix
	InspectCheckDirtyLog          = 12 // a vhdx log to replay
	InspectCheckVirtualSize       = 13 // a size the metadata cannot map
	InspectCheckContainer         = 14 // compressed data or an archive, not a disk image
	InspectCheckExpectFormat      = 15 // not the format --expect-format names (host)
	InspectCheckAllowFormats      = 16 // not among --allow-formats (host)
	InspectCheckNotInspected      = 17 // no verdict: the file could not be opened or inspected (host)
	InspectCheckCount             = 18
)

// InspectCheck is one safety check: its name and the rule it enforces.
//
//cheader:omit
type InspectCheck struct {
	Name string
	Rule string
}

// InspectChecks is every InspectCheck*, by number.
var InspectChecks = [InspectCheckCount]InspectCheck{
	{"open", "qemu-img would refuse to open the image; the reason is qemu's"},
	{"polyglot", "more than one format claims the file (an ISO with an MBR or GPT in its system area excepted)"},
	{"banned", "a format that is never accepted"},
	{"backing_file", "the image names a backing file (qcow2, vmdk parent, differencing vpc or vhdx)"},
	{"data_file", "the image keeps its data in an external data file"},
	{"data_file_extension", "a qcow2 data-file header extension without the data-file feature bit, or the reverse"},
	{"unknown_features", "a format version or incompatible feature qemu does not support"},
	{"descriptor", "a vmdk descriptor other than monolithicSparse or streamOptimized, with a line not understood, an extent naming another file, no extent, or not where the header says"},
	{"footer", "a streamOptimized vmdk footer that does not match its header, or bad footer and end-of-stream markers"},
	{"mbr", "a partition table with a bad boot flag, a protective MBR entry with a wrong start, partitions beside a protective GPT entry, or no partitions"},
	{"version", "a luks header version other than 1"},
	{"protocol", "a backing or data file name with a protocol prefix (json:, nbd:, file:, ...)"},
	{"dirty_log", "a vhdx whose log must be replayed before it is read"},
	{"virtual_size", "a virtual size beyond what the image's metadata can map"},
	{"container", "compressed data or an archive (gzip, xz, zstd, bzip2, tar, ova), not a disk image"},
	{"expect_format", "the detected format is not the one --expect-format names"},
	{"allow_formats", "the detected format is not among --allow-formats"},
	{"not_inspected", "the file could not be inspected (not opened, not a regular file or block device, or no verdict from its guest)"},
}

// Inspect error codes (InspectResultMessage.error): whether the guest
// reached a verdict, not what the verdict is.
const (
	InspectErrOK         = 0
	InspectErrReadFailed = 1
	InspectErrBadConfig  = 2
	InspectErrTooBig     = 3
)

// InspectMaxFailures bounds the failures one file reports; a guest that
// sends more is refused.
const InspectMaxFailures = 64
