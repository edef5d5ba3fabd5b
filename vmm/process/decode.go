package process

// The process accelerator emulates the three privileged instructions guest
// code may execute: in user mode each of them raises #GP, which the kernel
// delivers as a SIGSEGV stopped at the instruction. decode recognises them
// from the instruction bytes; everything else is a guest fault.

// insnKind is what a decoded instruction does.
type insnKind int

const (
	insnHalt insnKind = iota + 1
	insnOut
	insnIn
)

// maxInsnLen is the longest instruction decode recognises (66 E7 ib).
const maxInsnLen = 3

// insn is a decoded HLT, OUT or IN.
type insn struct {
	kind insnKind
	len  int // bytes, so RIP can be advanced past it
	// size is the I/O width in bytes (1, 2 or 4); port is the immediate
	// port when portDX is false, else the port is DX.
	size   int
	port   uint16
	portDX bool
}

// decode decodes the instruction at the start of code, which holds at most
// the bytes that are really guest memory (fewer than maxInsnLen near its
// end). It recognises HLT and the OUT/IN forms with an optional 0x66
// operand-size prefix on the word/dword forms; it reports false for
// anything else, including a truncated instruction.
func decode(code []byte) (insn, bool) {
	i, size := 0, 4
	if len(code) > 0 && code[0] == 0x66 {
		i, size = 1, 2
	}
	if i >= len(code) {
		return insn{}, false
	}
	prefixed := i == 1
	op := code[i]
	switch op {
	case 0xF4: // HLT
		if prefixed {
			return insn{}, false
		}
		return insn{kind: insnHalt, len: 1}, true
	case 0xEE, 0xEC: // OUT dx, al / IN al, dx
		if prefixed {
			return insn{}, false
		}
		return insn{kind: ioKind(op == 0xEE), len: 1, size: 1, portDX: true}, true
	case 0xEF, 0xED: // OUT dx, (e)ax / IN (e)ax, dx
		return insn{kind: ioKind(op == 0xEF), len: i + 1, size: size, portDX: true}, true
	case 0xE6, 0xE4: // OUT imm8, al / IN al, imm8
		if prefixed || i+1 >= len(code) {
			return insn{}, false
		}
		return insn{kind: ioKind(op == 0xE6), len: 2, size: 1, port: uint16(code[i+1])}, true
	case 0xE7, 0xE5: // OUT imm8, (e)ax / IN (e)ax, imm8
		if i+1 >= len(code) {
			return insn{}, false
		}
		return insn{kind: ioKind(op == 0xE7), len: i + 2, size: size, port: uint16(code[i+1])}, true
	}
	return insn{}, false
}

func ioKind(out bool) insnKind {
	if out {
		return insnOut
	}
	return insnIn
}
