package cli

import (
	"bytes"
	"testing"
)

// TestQemuBase64 holds the secret decoder to qemu's: its character check,
// then glib's lenient decoding (a short last group dropped, '=' ending a
// group early, newlines skipped).
func TestQemuBase64(t *testing.T) {
	for _, c := range []struct {
		in, out, err string
	}{
		{"YWJj", "abc", ""},
		{"YWJjZA==", "abcd", ""},
		{"YWJjZGU=", "abcde", ""},
		{"YWJ\njZA==\n", "abcd", ""},
		{"a", "", ""},
		{"abc", "", ""},
		{"YWJjY", "abc", ""},
		{"YQ==YWJj", "aabc", ""},
		{"", "", ""},
		{"YW Jj", "", "Base64 data contains invalid characters"},
		{"!!!!", "", "Base64 data contains invalid characters"},
		{"YW\x00Jj", "", "Base64 data contains embedded NUL characters"},
	} {
		got, err := qemuBase64([]byte(c.in))
		switch {
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("%q: %q, %v; want error %q", c.in, got, err, c.err)
		case c.err == "" && (err != nil || !bytes.Equal(got, []byte(c.out))):
			t.Errorf("%q: %q, %v; want %q", c.in, got, err, c.out)
		}
	}
}
