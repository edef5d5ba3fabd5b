package vmtest

// termFilter removes from the VM's console what would change the state of
// the terminal it is shown on: escape sequences (SeaBIOS clears the screen
// and turns line wrapping off) and control characters other than tab,
// newline and carriage return. It keeps its state between calls, as a
// sequence may be split across writes.
type termFilter struct {
	state filterState
}

type filterState uint8

const (
	textState   filterState = iota
	escState                // after ESC
	csiState                // in ESC [ ... up to a final byte
	stringState             // in ESC ] (OSC), P (DCS), X, ^ or _ ... up to BEL or ESC \
	stringEsc               // ESC seen inside a string
)

// filter appends to dst what of p may reach a terminal.
func (f *termFilter) filter(dst, p []byte) []byte {
	for _, b := range p {
		switch f.state {
		case textState:
			switch {
			case b == 0x1b:
				f.state = escState
			case b == '\t' || b == '\n' || b == '\r':
				dst = append(dst, b)
			case b < 0x20 || b == 0x7f:
				// other controls: dropped
			default:
				dst = append(dst, b)
			}
		case escState:
			switch {
			case b == '[':
				f.state = csiState
			case b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_':
				f.state = stringState
			case b >= 0x20 && b <= 0x2f:
				// an intermediate byte (as in ESC ( B): the final one follows
			default:
				// the final byte of a two-byte sequence (ESC c resets the
				// terminal, ESC 7 saves the cursor...), or garbage
				f.state = textState
			}
		case csiState:
			if b >= 0x40 && b <= 0x7e {
				f.state = textState
			} else if b == 0x1b {
				f.state = escState
			}
		case stringState:
			switch b {
			case 0x07:
				f.state = textState
			case 0x1b:
				f.state = stringEsc
			}
		case stringEsc:
			if b == '\\' {
				f.state = textState
			} else {
				f.state = stringState
			}
		}
	}
	return dst
}
