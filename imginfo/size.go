package imginfo

import (
	"math"
	"strconv"
	"strings"
)

// SizeToStr formats a byte count as qemu's size_to_str does for qemu-img
// info's human output: the value in the largest binary unit (B, KiB, MiB,
// GiB, TiB, PiB, EiB) that leaves it below 1000, printed as C's "%0.3g"
// ("0 B", "1 GiB", "1.5 KiB", "1e+03 KiB").
func SizeToStr(v uint64) string {
	suffixes := [...]string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
	// frexp's exponent minus one is floor(log2(v * 1024 / 1000)); the
	// 1000/1024 moves to the next unit once the value reaches 1000.
	_, exp := math.Frexp(float64(v) / (1000.0 / 1024.0))
	i := (exp - 1) / 10
	div := uint64(1) << (i * 10)
	return formatG3(float64(v)/float64(div)) + " " + suffixes[i] + "B"
}

// formatG3 is C's "%.3g" for a finite, non-negative x: three significant
// digits, in %e style when the exponent is below -4 or at least 3, trailing
// zeros and a trailing point dropped.
func formatG3(x float64) string {
	const precision = 3
	if x == 0 {
		return "0"
	}
	e := strconv.FormatFloat(x, 'e', precision-1, 64)
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp >= -4 && exp < precision {
		return trimFraction(strconv.FormatFloat(x, 'f', precision-1-exp, 64))
	}
	// Go, like C, writes the exponent with a sign and at least two digits.
	return trimFraction(mant) + "e" + expStr
}

// trimFraction drops trailing zeros after a decimal point, then the point.
func trimFraction(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
