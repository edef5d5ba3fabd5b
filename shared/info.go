package shared

// InfoConfigMagic marks a valid InfoConfig ("INFO").
const InfoConfigMagic = 0x4F464E49

// InfoConfig is the info operation's input, written by the host at
// OperationConfigAddr. The image is input device 0, read-only; with
// InfoFlagExtents, devices 1 and 2 hold the extent files the image names
// (see InfoFlagExtents).
type InfoConfig struct {
	// Magic is InfoConfigMagic.
	Magic uint32
	// Format is the Format* given with -f, or FormatUnset: probe in the
	// guest, as qemu-img does without -f.
	Format uint32
	// Flags are InfoFlag* bits.
	Flags uint32
	// Reserved is zero.
	Reserved uint32
}

// InfoFlagExtents says that the extent files the image names (a vmdk
// descriptor's), as far as the host opened them in the image's order, are
// attached: input device 1 is their table, one InfoExtentEntry (16 bytes)
// each, and input device 2 their bytes, file i at its entry's offset.
const InfoFlagExtents = 1

// InfoExtentEntry is one extent file in input device 1's table.
type InfoExtentEntry struct {
	// Offset is where the file's bytes start in input device 2.
	Offset uint64
	// Size is the file's length in bytes.
	Size uint64
}

// Info error codes (InfoResultMessage.error). The host words the ones
// that travel without the driver's own reason.
const (
	InfoErrOK          = 0
	InfoErrReadFailed  = 1
	InfoErrInvalid     = 2
	InfoErrUnknownFmt  = 3
	InfoErrUnsupported = 4
	InfoErrBadConfig   = 5
	InfoErrTooBig      = 6
	// InfoErrNeedExtents asks for the extent files: the guest sent an
	// ExtentMessage with the name of each (index 1..), and needs them
	// attached (InfoFlagExtents) from the first it was not given on.
	InfoErrNeedExtents = 7
)
