package guestbuild

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// StubName is the stub's name in the guest bundle.
const StubName = "stub"

// StubBase is where the process accelerator's stub is linked: far above any
// guest RAM, so the stub's process can map guest RAM at the guest addresses.
const StubBase = 0x100000000000

// StubMaxSize caps the stub's ELF file.
const StubMaxSize = 64 << 10

// StubSources are the stub's sources, relative to the guest directory.
var StubSources = []string{"stub/start.S", "stub/stub.c"}

// StubCFlags are the stub's compile flags. It is an ordinary (if
// freestanding) Linux program, not a guest binary: it runs in user mode
// above 4 GiB, hence the large code model, and it shares no code with the
// guest.
var StubCFlags = []string{
	"-std=c11", "-Os", "-ffreestanding", "-nostdlib", "-static",
	"-fno-pic", "-fno-pie", "-no-pie", "-mcmodel=large", "-mgeneral-regs-only",
	"-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-fcf-protection=none",
	"-fno-builtin", "-fno-tree-loop-distribute-patterns",
	"-Wall", "-Wextra", "-Werror",
}

// Stub is the built stub.
type Stub struct {
	ELF   string // path of the linked ELF
	Data  []byte // the ELF's bytes, as embedded
	Entry uint64 // its entry point
}

// BuildStub compiles the process accelerator's stub (guest/stub/) into
// outDir/stub.elf and checks that it is a static x86-64 executable that lies
// entirely at or above StubBase.
func BuildStub(guestDir, outDir string) (*Stub, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", outDir, err)
	}
	elfPath := filepath.Join(outDir, StubName+".elf")
	args := append([]string{}, StubCFlags...)
	args = append(args, LDFlags...)
	args = append(args, "-s",
		"-Wl,-T,"+filepath.Join(guestDir, "stub", "stub.ld"),
		fmt.Sprintf("-Wl,--defsym=STUB_BASE=%#x", StubBase),
		"-o", elfPath)
	for _, s := range StubSources {
		args = append(args, filepath.Join(guestDir, s))
	}
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compile the process stub: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	data, err := os.ReadFile(elfPath)
	if err != nil {
		return nil, fmt.Errorf("read the process stub: %w", err)
	}
	entry, err := CheckStub(data, StubBase)
	if err != nil {
		return nil, fmt.Errorf("process stub %s: %w", elfPath, err)
	}
	return &Stub{ELF: elfPath, Data: data, Entry: entry}, nil
}

// CheckStub checks that data is a static x86-64 executable, at most
// StubMaxSize bytes, whose loadable segments all lie at or above minAddr
// and whose entry point is inside one of them; it returns the entry.
func CheckStub(data []byte, minAddr uint64) (uint64, error) {
	if len(data) > StubMaxSize {
		return 0, fmt.Errorf("%d bytes, more than the cap of %d", len(data), StubMaxSize)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("not an ELF file: %w", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		return 0, errors.New("not a static x86-64 executable")
	}
	entryOK := false
	loads := 0
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
			loads++
		}
	}
	if loads == 0 || !entryOK {
		return 0, fmt.Errorf("entry %#x is not in an executable segment", f.Entry)
	}
	return f.Entry, nil
}
