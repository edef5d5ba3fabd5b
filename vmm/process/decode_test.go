package process

import "testing"

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		code []byte
		ok   bool
		want insn
	}{
		{[]byte{0xf4}, true, insn{kind: insnHalt, len: 1}},
		{[]byte{0xee}, true, insn{kind: insnOut, len: 1, size: 1, portDX: true}},
		{[]byte{0xef}, true, insn{kind: insnOut, len: 1, size: 4, portDX: true}},
		{[]byte{0x66, 0xef}, true, insn{kind: insnOut, len: 2, size: 2, portDX: true}},
		{[]byte{0xe6, 0x80}, true, insn{kind: insnOut, len: 2, size: 1, port: 0x80}},
		{[]byte{0xe7, 0x80}, true, insn{kind: insnOut, len: 2, size: 4, port: 0x80}},
		{[]byte{0x66, 0xe7, 0x80}, true, insn{kind: insnOut, len: 3, size: 2, port: 0x80}},
		{[]byte{0xec}, true, insn{kind: insnIn, len: 1, size: 1, portDX: true}},
		{[]byte{0xed}, true, insn{kind: insnIn, len: 1, size: 4, portDX: true}},
		{[]byte{0x66, 0xed}, true, insn{kind: insnIn, len: 2, size: 2, portDX: true}},
		{[]byte{0xe4, 7}, true, insn{kind: insnIn, len: 2, size: 1, port: 7}},
		{[]byte{0xe5, 7}, true, insn{kind: insnIn, len: 2, size: 4, port: 7}},
		{[]byte{0x66, 0xe5, 7}, true, insn{kind: insnIn, len: 3, size: 2, port: 7}},
		// Trailing bytes are the next instruction's.
		{[]byte{0xf4, 0xee, 0xee}, true, insn{kind: insnHalt, len: 1}},
		// Truncated: the immediate is not guest memory.
		{[]byte{0xe6}, false, insn{}},
		{[]byte{0x66, 0xe7}, false, insn{}},
		{[]byte{0x66}, false, insn{}},
		{nil, false, insn{}},
		// Prefixes that make no sense on the byte forms, and others.
		{[]byte{0x66, 0xee}, false, insn{}},
		{[]byte{0x66, 0xf4}, false, insn{}},
		{[]byte{0x66, 0xe6, 1}, false, insn{}},
		{[]byte{0xf3, 0xee}, false, insn{}},
		{[]byte{0x66, 0x66, 0xef}, false, insn{}},
		// OUTS/INS, CLI, and others are not emulated.
		{[]byte{0x6e}, false, insn{}},
		{[]byte{0x6c}, false, insn{}},
		{[]byte{0xfa}, false, insn{}},
		{[]byte{0x0f, 0x01, 0xd9}, false, insn{}},
	} {
		got, ok := decode(tc.code)
		if ok != tc.ok || got != tc.want {
			t.Errorf("decode(% x) = %+v, %v; want %+v, %v", tc.code, got, ok, tc.want, tc.ok)
		}
	}
}
