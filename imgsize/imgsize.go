// Package imgsize parses image sizes the way qemu-img does: bytes, or a
// number with a k, M, G, T, P or E suffix (powers of 1024, either case);
// "b" or "B" means bytes; a decimal fraction is allowed with a multiplier
// suffix ("1.5k" is 1536); a hex number is allowed ("0x10").
package imgsize

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// Max is the largest size qemu-img accepts.
const Max = math.MaxInt64

// ErrSyntax is a size that is not a number with an allowed suffix.
var ErrSyntax = errors.New("invalid size: use a number of bytes, or k, M, G, T, P or E for KiB, MiB, GiB, TiB, PiB or EiB")

// ErrRange is a size above Max.
var ErrRange = errors.New("invalid size: it must be between 0 and " + strconv.FormatUint(Max, 10))

// multiplier is what a suffix stands for, in either case.
func multiplier(suffix byte) (uint64, bool) {
	i := strings.IndexByte("bkmgtpe", suffix|0x20)
	if i < 0 {
		return 0, false
	}
	return 1 << (10 * i), true
}

// Parse parses s; a number without a suffix is bytes.
func Parse(s string) (uint64, error) {
	rest := strings.TrimLeft(s, " \t\n\v\f\r")
	rest = strings.TrimPrefix(rest, "+")
	hex := strings.HasPrefix(rest, "0x") || strings.HasPrefix(rest, "0X")
	var intPart, fracPart string
	if hex {
		rest = rest[2:]
		n := 0
		for n < len(rest) && strings.IndexByte("0123456789abcdefABCDEF", rest[n]) >= 0 {
			n++
		}
		intPart, rest = rest[:n], rest[n:]
	} else {
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		intPart, rest = rest[:n], rest[n:]
		if strings.HasPrefix(rest, ".") {
			rest = rest[1:]
			n = 0
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			fracPart, rest = "0."+rest[:n], rest[n:]
		}
	}
	if intPart == "" {
		return 0, ErrSyntax
	}
	mult := uint64(1)
	suffixed := false
	if len(rest) == 1 {
		m, ok := multiplier(rest[0])
		if !ok {
			return 0, ErrSyntax
		}
		mult, suffixed, rest = m, true, ""
	}
	if rest != "" {
		return 0, ErrSyntax
	}
	// A fraction needs a multiplier, as in qemu: "1.5" and "1.5b" are
	// errors, while "1." and "1.0" are 1.
	if strings.Trim(fracPart, "0.") != "" && (!suffixed || mult == 1) {
		return 0, ErrSyntax
	}
	base := 10
	if hex {
		base = 16
	}
	v, err := strconv.ParseUint(intPart, base, 64)
	if err != nil {
		return 0, ErrRange
	}
	if v > Max/mult {
		return 0, ErrRange
	}
	v *= mult
	if fracPart != "" {
		f, err := strconv.ParseFloat(fracPart, 64)
		if err != nil {
			return 0, ErrSyntax
		}
		// qemu adds the fraction as a C double times the multiplier,
		// truncated: "1.0000001k" is 1024.
		add := uint64(f * float64(mult))
		if add > Max-v {
			return 0, ErrRange
		}
		v += add
	}
	return v, nil
}
