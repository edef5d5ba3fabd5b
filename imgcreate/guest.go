package imgcreate

import (
	"fmt"

	"instar/embed"
	"instar/shared"
	"instar/shared/guestmsg"
	"instar/vmm"
)

// guestBinaries returns core and the create operation from the bundle.
func guestBinaries() (core, op []byte, err error) { return embed.Guest("create") }

// errorTexts are the host's wording of the CreateResult error codes: the
// one table of them (the guest sends a text only when a planner gives
// its own reason).
var errorTexts = map[uint32]string{
	shared.CreateErrInvalidOption:     "invalid option value or combination for this format (see -o help)",
	shared.CreateErrInvalidSize:       "the image size is not valid for this format",
	shared.CreateErrScratchTooSmall:   "this option combination needs more memory than the guest has (try a larger cluster size)",
	shared.CreateErrBackingReadFailed: "could not read the backing file",
	shared.CreateErrBackingParse:      "the backing file's header is not valid",
	shared.CreateErrBackingTooLong:    "backing file name is too long",
	shared.CreateErrWriteFailed:       "writing the image failed",
	shared.CreateErrUnsupportedFormat: "format not supported",
	shared.CreateErrBadConfig:         "the guest refused its configuration",
	shared.CreateErrBackingFormat:     "the backing file's format is not the one given",
}

// createErrorText is the host's wording of a CreateResult error code.
func createErrorText(code uint32) string {
	if t, ok := errorTexts[code]; ok {
		return t
	}
	return fmt.Sprintf("create failed (error %d)", code)
}

// guestResult is what one run of the create guest reported.
type guestResult struct {
	guestmsg.CreateResultMessage
	// reason is the rule a planner says was broken, printable ASCII; ""
	// when it gave none.
	reason string
	// outputSizes are the lengths of the outputs after the first.
	outputSizes map[uint32]uint64
}

// decodeResult decodes and checks what the create guest reported over
// outputs output devices.
func decodeResult(res *vmm.Result, outputs int) (*guestResult, error) {
	if res.Complete == nil || res.Complete.Result == nil {
		return nil, fmt.Errorf("the create guest completed without a result%s", lastError(res))
	}
	r := &guestResult{}
	if err := r.Unmarshal(res.Complete.Result); err != nil {
		return nil, fmt.Errorf("the create guest's result does not decode: %w", err)
	}
	if n := len(res.Errors); n > 0 {
		r.reason = vmm.Printable(res.Errors[n-1].GetMessage())
	}
	for _, m := range res.Messages {
		o := m.GetOutputSize()
		if o == nil {
			return nil, fmt.Errorf("the create guest sent a message create does not use")
		}
		if o.Output == 0 || o.Output >= uint32(outputs) {
			return nil, fmt.Errorf("the create guest gave a size for output %d, which is not an extra output", o.Output)
		}
		if _, dup := r.outputSizes[o.Output]; dup {
			return nil, fmt.Errorf("the create guest gave a second size for output %d", o.Output)
		}
		if r.outputSizes == nil {
			r.outputSizes = map[uint32]uint64{}
		}
		r.outputSizes[o.Output] = o.Size
	}
	return r, nil
}

func lastError(res *vmm.Result) string {
	if n := len(res.Errors); n > 0 {
		return ": " + vmm.Printable(res.Errors[n-1].GetMessage())
	}
	return ""
}
