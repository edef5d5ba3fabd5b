package imgcreate

import (
	"fmt"

	"instar/embed"
	"instar/shared"
	"instar/shared/guestmsg"
)

type createResult = guestmsg.CreateResultMessage

// guestBinaries returns core and the create operation from the bundle.
func guestBinaries() (core, op []byte, err error) { return embed.Guest("create") }

// createErrorText is the host's wording of a CreateResult error code.
func createErrorText(code uint32) string {
	switch code {
	case shared.CreateErrInvalidOption:
		return "invalid option value or combination for this format (see -o help)"
	case shared.CreateErrInvalidSize:
		return "the image size is not valid for this format"
	case shared.CreateErrScratchTooSmall:
		return "this option combination needs more memory than the guest has (try a larger cluster size)"
	case shared.CreateErrBackingReadFailed:
		return "could not read the backing file"
	case shared.CreateErrBackingParse:
		return "the backing file's header is not valid"
	case shared.CreateErrBackingTooLong:
		return "backing file name is too long"
	case shared.CreateErrWriteFailed:
		return "writing the image failed"
	case shared.CreateErrUnsupportedFormat:
		return "format not supported"
	case shared.CreateErrBadConfig:
		return "the guest refused its configuration"
	case shared.CreateErrBackingFormat:
		return "the backing file's format is not the one given"
	}
	return fmt.Sprintf("create failed (error %d)", code)
}
