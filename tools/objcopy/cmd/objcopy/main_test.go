package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// code is hlt; jmp back to it; nop.
var code = []byte{0xf4, 0xeb, 0xfd, 0x90}

// tinyELF is a hand-made x86-64 ET_EXEC with one PT_LOAD at 0x10000 holding
// code plus 0x100-len(code) bytes of .bss. The package tests check real
// linker output against GNU objcopy; this only exercises the command.
func tinyELF() []byte {
	const ehsize, phsize = 64, 56
	b := make([]byte, ehsize+phsize, ehsize+phsize+len(code))
	le := binary.LittleEndian
	copy(b, "\x7fELF\x02\x01\x01") // ELFCLASS64, little-endian, version 1
	le.PutUint16(b[16:], 2)        // ET_EXEC
	le.PutUint16(b[18:], 62)       // EM_X86_64
	le.PutUint32(b[20:], 1)        // EV_CURRENT
	le.PutUint64(b[24:], 0x10000)  // e_entry
	le.PutUint64(b[32:], ehsize)   // e_phoff
	le.PutUint16(b[52:], ehsize)   // e_ehsize
	le.PutUint16(b[54:], phsize)   // e_phentsize
	le.PutUint16(b[56:], 1)        // e_phnum
	ph := b[ehsize:]
	le.PutUint32(ph[0:], 1)                  // PT_LOAD
	le.PutUint32(ph[4:], 5)                  // R+X
	le.PutUint64(ph[8:], ehsize+phsize)      // p_offset
	le.PutUint64(ph[16:], 0x10000)           // p_vaddr
	le.PutUint64(ph[24:], 0x10000)           // p_paddr
	le.PutUint64(ph[32:], uint64(len(code))) // p_filesz
	le.PutUint64(ph[40:], 0x100)             // p_memsz
	le.PutUint64(ph[48:], 0x1000)            // p_align
	return append(b, code...)
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.elf")
	if err := os.WriteFile(in, tinyELF(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.bin")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string // substring
	}{
		{
			name:       "ok",
			args:       []string{"-base", "0x10000", "-max", "0x10000", in, out},
			wantStdout: out + ": load 0x10000 entry 0x10000 file 4 bytes, in memory 256 bytes (cap 65536)\n",
		},
		{
			name:       "too large",
			args:       []string{"-base", "0x10000", "-max", "0x80", in, out},
			wantCode:   1,
			wantStderr: "objcopy: " + in + ": image too large: in-memory size 256 bytes",
		},
		{
			name:       "missing input",
			args:       []string{"-base", "0x10000", "-max", "0x10000", filepath.Join(dir, "nope"), out},
			wantCode:   1,
			wantStderr: "objcopy: open ",
		},
		{name: "no -max", args: []string{"-base", "0x10000", in, out}, wantCode: 2, wantStderr: "usage:"},
		{name: "one file", args: []string{"-base", "0", "-max", "1", in}, wantCode: 2, wantStderr: "usage:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, &stderr)
			}
			if stdout.String() != tt.wantStdout {
				t.Errorf("stdout %q, want %q", &stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", &stderr, tt.wantStderr)
			}
			if tt.wantCode != 0 {
				return
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, code) {
				t.Errorf("out.bin = % x, want % x", got, code)
			}
		})
	}
}
