package shared

// InfoConfigMagic marks a valid InfoConfig ("INFO").
const InfoConfigMagic = 0x4F464E49

// InfoConfig is the info operation's input, written by the host at
// OperationConfigAddr. The image is input device 0, read-only.
type InfoConfig struct {
	// Magic is InfoConfigMagic.
	Magic uint32
	// Format is the Format* given with -f, or FormatUnset: probe in the
	// guest, as qemu-img does without -f.
	Format uint32
	// Flags is zero, for flags added later.
	Flags uint32
	// Reserved is zero.
	Reserved uint32
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
)
