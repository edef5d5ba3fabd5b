package vmtest

import (
	"testing"

	"instar/tools/vmtest/internal/wire"
)

func TestTermFilter(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain text", "Linux version 6.1.0\r\nok\tdone\n", "Linux version 6.1.0\r\nok\tdone\n"},
		// What SeaBIOS 1.16.2 writes to the serial console first (captured
		// from qemu-system-x86_64 -nographic).
		{"SeaBIOS clear and no wrap", "\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n", "SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n"},
		{"cursor moves and colours", "a\x1b[1;1Hb\x1b[31;1mc\x1b[Kd", "abcd"},
		{"wrap back on", "\x1b[?7hx", "x"},
		{"OSC title ended by BEL", "\x1b]0;evil title\x07after", "after"},
		{"OSC title ended by ST", "\x1b]2;evil\x1b\\after", "after"},
		{"DCS", "\x1bPq#0;2;0;0;0\x1b\\x", "x"},
		{"charset selection", "\x1b(Bx\x1b)0y", "xy"},
		{"save and restore cursor", "\x1b7x\x1b8", "x"},
		{"other controls", "bell\x07 bs\x08 ff\x0c so\x0e del\x7f nul\x00.", "bell bs ff so del nul."},
		{"ESC inside CSI starts over", "\x1b[12\x1b[2Jx", "x"},
		{"UTF-8 kept", "caf\xc3\xa9\n", "caf\xc3\xa9\n"},
		{"ESC at the very end", "text\x1b", "text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f termFilter
			if got := string(f.filter(nil, []byte(tc.in))); got != tc.want {
				t.Errorf("filter(%q) = %q, want %q", tc.in, got, tc.want)
			}
			// Split at every point, as the console's writes may be.
			for i := 0; i <= len(tc.in); i++ {
				var f termFilter
				got := f.filter(nil, []byte(tc.in[:i]))
				got = f.filter(got, []byte(tc.in[i:]))
				if string(got) != tc.want {
					t.Errorf("split at %d: got %q, want %q", i, got, tc.want)
				}
			}
			// Nothing the filter lets through starts a sequence.
			for _, b := range f.filter(nil, []byte(tc.in)) {
				if b == 0x1b || (b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f {
					t.Errorf("control byte %#x let through", b)
				}
			}
		})
	}
}

func TestConsoleLogFiltersWhatItShowsAndKeeps(t *testing.T) {
	var shown []byte
	c := &consoleLog{out: writerFunc(func(p []byte) { shown = append(shown, p...) })}
	for _, chunk := range []string{"\x1b[2J\x1b", "[?7lboot\r\n", wire.ExitMarker + " 3\r\n"} {
		if _, err := c.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if want := "boot\r\n" + wire.ExitMarker + " 3\r\n"; string(shown) != want {
		t.Errorf("shown %q, want %q", shown, want)
	}
	if tail := c.tailString(); tail != "boot\r\n"+wire.ExitMarker+" 3" {
		t.Errorf("tail %q", tail)
	}
	if code, exited, _ := c.result(); !exited || code != 3 {
		t.Errorf("exit %d, %v; want 3, true", code, exited)
	}
}

type writerFunc func(p []byte)

func (w writerFunc) Write(p []byte) (int, error) { w(p); return len(p), nil }
