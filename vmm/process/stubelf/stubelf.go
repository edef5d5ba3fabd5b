// Package stubelf checks the process accelerator's stub, an ELF: the one
// check, made where the build links the stub and where the VMM loads it
// from the bundle (once, on first use).
package stubelf

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
)

// MaxSize caps the stub's ELF file.
const MaxSize = 64 << 10

// Check checks that data is a static x86-64 executable of at most MaxSize
// bytes whose loadable segments all lie at or above minAddr and whose entry
// point is inside an executable one. It returns the lowest address the
// stub loads at.
func Check(data []byte, minAddr uint64) (uint64, error) {
	if len(data) > MaxSize {
		return 0, fmt.Errorf("%d bytes, more than the cap of %d", len(data), MaxSize)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("not an ELF file: %w", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		return 0, errors.New("not a static x86-64 executable")
	}
	entryOK := false
	low := uint64(1<<64 - 1)
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP, elf.PT_DYNAMIC:
			return 0, errors.New("dynamically linked")
		case elf.PT_LOAD:
			end := p.Vaddr + p.Memsz
			if p.Vaddr < minAddr || end < p.Vaddr || p.Filesz > p.Memsz {
				return 0, fmt.Errorf("segment [%#x, %#x) is malformed or below %#x", p.Vaddr, end, minAddr)
			}
			if f.Entry >= p.Vaddr && f.Entry < end && p.Flags&elf.PF_X != 0 {
				entryOK = true
			}
			low = min(low, p.Vaddr)
		}
	}
	if !entryOK {
		return 0, fmt.Errorf("entry %#x is not in an executable segment", f.Entry)
	}
	return low, nil
}
