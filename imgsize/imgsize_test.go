package imgsize

import (
	"errors"
	"testing"
)

// The expectations are what qemu-img 7.2 create accepts and makes.
func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want uint64
		err  error
	}{
		{"0", 0, nil},
		{"1024", 1024, nil},
		{"1024b", 1024, nil},
		{"1K", 1024, nil},
		{"1k", 1024, nil},
		{"1m", 1 << 20, nil},
		{"10G", 10 << 30, nil},
		{"2T", 2 << 40, nil},
		{"1P", 1 << 50, nil},
		{"7E", 7 << 60, nil},
		{"1.5k", 1536, nil},
		{"1.5G", 1610612736, nil},
		{"1.k", 1024, nil},
		{"00.5k", 512, nil},
		{"1.0000001k", 1024, nil},
		{"0x10", 16, nil},
		{"0x10k", 16384, nil},
		{" 5", 5, nil},
		{"+5", 5, nil},
		{"010", 10, nil},
		{"9223372036854775807", 9223372036854775807, nil},
		{"1.5", 0, ErrSyntax},
		{"1.5b", 0, ErrSyntax},
		{"1.", 1, nil},
		{"1.0", 1, nil},
		{"0.", 0, nil},
		{"2.000b", 2, nil},
		{"1.5B", 0, ErrSyntax},
		{"0x1.5k", 0, ErrSyntax},
		{".5k", 0, ErrSyntax},
		{"abc", 0, ErrSyntax},
		{"1x", 0, ErrSyntax},
		{"1kb", 0, ErrSyntax},
		{"1K5", 0, ErrSyntax},
		{"5 ", 0, ErrSyntax},
		{"1e3", 0, ErrSyntax},
		{"", 0, ErrSyntax},
		{"-1", 0, ErrSyntax},
		{"8E", 0, ErrRange},
		{"16E", 0, ErrRange},
		{"9223372036854775808", 0, ErrRange},
		{"99999999999999999999999", 0, ErrRange},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, %v", c.in, got, err, c.want, c.err)
		}
	}
}
