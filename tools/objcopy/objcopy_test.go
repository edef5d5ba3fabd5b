package objcopy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The test ELFs are built at test time with the system toolchain so that the
// comparison against GNU objcopy is on real linker output, not on hand-made
// files that might share a misunderstanding with the code under test.

// textAsm is a minimal program: entry at the first byte, plus some rodata.
const textAsm = `
	.text
	.globl _start
_start:
	hlt
	jmp _start
	.section .rodata
	.ascii "hello"
`

// fullAsm has code, data, .bss and an extra ".tail" section that scripts can
// place in a segment of its own.
const fullAsm = textAsm + `
	.data
	.quad 0x1111111111111111, 0x2222222222222222
	.bss
	.space 0x2000
	.section .tail, "a"
	.quad 0x3333333333333333
`

// discard drops sections that the toolchain may add and that would otherwise
// become orphans with segments of their own.
const discard = `/DISCARD/ : { *(.note*) *(.comment) *(.eh_frame*) }`

// textScript links textAsm as one segment at addr.
func textScript(addr uint64) string {
	return fmt.Sprintf(`ENTRY(_start)
PHDRS { text PT_LOAD FLAGS(5); }
SECTIONS {
	. = %#x;
	.text : { *(.text*) } :text
	.rodata : { *(.rodata*) } :text
	%s
}`, addr, discard)
}

// twoSegScript links fullAsm as text+rodata, then data+bss on the next page.
const twoSegScript = `ENTRY(_start)
PHDRS { text PT_LOAD FLAGS(5); data PT_LOAD FLAGS(6); }
SECTIONS {
	. = 0x10000;
	.text : { *(.text*) } :text
	.rodata : { *(.rodata*) } :text
	. = ALIGN(4096);
	.data : { *(.data*) } :data
	.bss : { *(.bss*) *(COMMON) } :data
	/DISCARD/ : { *(.tail) }
	` + discard + `
}`

// buildELF assembles and links asm with the linker script and returns the
// path of the executable. A missing toolchain fails the test: these tests
// are the evidence that the output matches objcopy, so they must not skip.
func buildELF(t *testing.T, asm, script string) string {
	t.Helper()
	dir := t.TempDir()
	src, ld, out := filepath.Join(dir, "prog.s"), filepath.Join(dir, "script.ld"), filepath.Join(dir, "prog.elf")
	if err := os.WriteFile(src, []byte(asm), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ld, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gcc", "-ffreestanding", "-nostdlib", "-static", "-no-pie",
		"-Wl,-T,"+ld, "-Wl,--build-id=none", "-Wl,-z,max-page-size=4096", "-Wl,-z,noexecstack",
		"-o", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, b)
	}
	return out
}

// gnuObjcopy returns what `objcopy -O binary` makes of the ELF at path.
func gnuObjcopy(t *testing.T, path string) []byte {
	t.Helper()
	out := path + ".bin"
	cmd := exec.Command("objcopy", "-O", "binary", path, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConvertMatchesGNU(t *testing.T) {
	tests := []struct {
		name     string
		asm      string
		script   string
		wantFile int
		wantMem  uint64
	}{
		{
			name:     "single text segment",
			asm:      textAsm,
			script:   textScript(0x10000),
			wantFile: 8, // 3 bytes of code, 5 of rodata
			wantMem:  8,
		},
		{
			name:     "text data and bss",
			asm:      fullAsm,
			script:   twoSegScript,
			wantFile: 0x1010,          // .bss is not in the file...
			wantMem:  0x1010 + 0x2000, // ...but is in memory
		},
		{
			name: "segments with gaps",
			asm:  fullAsm,
			script: `ENTRY(_start)
PHDRS { text PT_LOAD FLAGS(5); data PT_LOAD FLAGS(6); tail PT_LOAD FLAGS(4); }
SECTIONS {
	. = 0x10000;
	.text : { *(.text*) } :text
	.rodata : { *(.rodata*) } :text
	. = 0x14000;
	.data : { *(.data*) } :data
	. = 0x18000;
	.tail : { *(.tail) } :tail
	/DISCARD/ : { *(.bss*) }
	` + discard + `
}`,
			wantFile: 0x8008,
			wantMem:  0x8008,
		},
		{
			name: "bss in a middle segment",
			asm:  fullAsm,
			script: `ENTRY(_start)
PHDRS { text PT_LOAD FLAGS(5); data PT_LOAD FLAGS(6); tail PT_LOAD FLAGS(4); }
SECTIONS {
	. = 0x10000;
	.text : { *(.text*) } :text
	.rodata : { *(.rodata*) } :text
	. = 0x11000;
	.data : { *(.data*) } :data
	.bss : { *(.bss*) } :data
	. = 0x14000;
	.tail : { *(.tail) } :tail
	` + discard + `
}`,
			wantFile: 0x4008, // the middle .bss is zero-filled in the file
			wantMem:  0x4008,
		},
		{
			name: "trailing bss-only segment",
			asm:  fullAsm,
			script: `ENTRY(_start)
PHDRS { text PT_LOAD FLAGS(5); bss PT_LOAD FLAGS(6); }
SECTIONS {
	. = 0x10000;
	.text : { *(.text*) } :text
	.rodata : { *(.rodata*) } :text
	. = 0x12000;
	.bss : { *(.bss*) } :bss
	/DISCARD/ : { *(.data*) *(.tail) }
	` + discard + `
}`,
			wantFile: 8,
			wantMem:  0x4000,
		},
		{
			name: "data loaded apart from its run address",
			asm:  fullAsm,
			script: `ENTRY(_start)
PHDRS { text PT_LOAD FLAGS(5); data PT_LOAD FLAGS(6); }
SECTIONS {
	. = 0x10000;
	.text : { *(.text*) } :text
	.rodata : { *(.rodata*) } :text
	.data 0x200000 : AT(0x12000) { *(.data*) } :data
	/DISCARD/ : { *(.bss*) *(.tail) }
	` + discard + `
}`,
			wantFile: 0x2010, // placed by paddr (LMA), not vaddr
			wantMem:  0x2010,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := buildELF(t, tt.asm, tt.script)
			want := gnuObjcopy(t, path)
			img, err := ConvertFile(path, Limits{Base: 0x10000, MaxSize: 0x10000})
			if err != nil {
				t.Fatalf("ConvertFile: %v", err)
			}
			if !bytes.Equal(img.Data, want) {
				t.Errorf("Data differs from objcopy -O binary: got %d bytes, want %d", len(img.Data), len(want))
			}
			if len(img.Data) != tt.wantFile {
				t.Errorf("len(Data) = %#x, want %#x", len(img.Data), tt.wantFile)
			}
			if img.LoadAddr != 0x10000 || img.Entry != 0x10000 {
				t.Errorf("LoadAddr, Entry = %#x, %#x, want 0x10000, 0x10000", img.LoadAddr, img.Entry)
			}
			if img.MemSize != tt.wantMem {
				t.Errorf("MemSize = %#x, want %#x", img.MemSize, tt.wantMem)
			}
		})
	}
}

// Offsets into the ELF64 header and program headers, for patching.
const (
	offType     = 16 // e_type
	offMachine  = 18 // e_machine
	offPhoff    = 32 // e_phoff
	offPhentsz  = 54 // e_phentsize
	offPhnum    = 56 // e_phnum
	offPhOffset = 8  // p_offset
	offPhPaddr  = 24 // p_paddr
	offPhFilesz = 32 // p_filesz
	offPhMemsz  = 40 // p_memsz
)

// phdr returns the file offset of program header i.
func phdr(b []byte, i int) int {
	le := binary.LittleEndian
	return int(le.Uint64(b[offPhoff:])) + i*int(le.Uint16(b[offPhentsz:]))
}

// phdrU64 reads field off of program header i.
func phdrU64(b []byte, i, off int) uint64 {
	return binary.LittleEndian.Uint64(b[phdr(b, i)+off:])
}

// setPhdrU64 sets field off of program header i.
func setPhdrU64(b []byte, i, off int, v uint64) {
	binary.LittleEndian.PutUint64(b[phdr(b, i)+off:], v)
}

// elf32Header is a bare ELF32 i386 ET_EXEC header with no program headers:
// the smallest input that is a valid ELF but the wrong class.
func elf32Header() []byte {
	b := make([]byte, 52)
	copy(b, "\x7fELF\x01\x01\x01") // ELFCLASS32, little-endian, version 1
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2)  // ET_EXEC
	le.PutUint16(b[18:], 3)  // EM_386
	le.PutUint32(b[20:], 1)  // EV_CURRENT
	le.PutUint32(b[24:], 0)  // entry
	le.PutUint16(b[40:], 52) // e_ehsize
	le.PutUint16(b[42:], 32) // e_phentsize
	le.PutUint16(b[46:], 40) // e_shentsize
	return b
}

func TestConvertRefusals(t *testing.T) {
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(rand.N(256))
	}
	std := Limits{Base: 0x10000, MaxSize: 0x10000}
	tests := []struct {
		name    string
		raw     []byte                // input as is; otherwise asm+script are built
		asm     string                // defaults to textAsm
		script  string                // defaults to textScript(0x10000)
		patch   func(b []byte) []byte // edits the built ELF
		lim     Limits                // defaults to std
		wantErr error
		wantMsg []string
	}{
		{name: "random bytes", raw: noise, wantErr: ErrNotELF, wantMsg: []string{"bad magic"}},
		{name: "empty", raw: []byte{}, wantErr: ErrNotELF},
		{name: "32-bit", raw: elf32Header(), wantErr: ErrMachine, wantMsg: []string{"ELFCLASS32"}},
		{
			name:    "wrong machine",
			patch:   func(b []byte) []byte { binary.LittleEndian.PutUint16(b[offMachine:], 183); return b }, // EM_AARCH64
			wantErr: ErrMachine,
			wantMsg: []string{"EM_AARCH64", "183", "EM_X86_64"},
		},
		{
			name:    "ET_DYN",
			patch:   func(b []byte) []byte { binary.LittleEndian.PutUint16(b[offType:], 3); return b },
			wantErr: ErrNotExecutable,
			wantMsg: []string{"ET_DYN"},
		},
		{
			name: "no segment with memory",
			patch: func(b []byte) []byte {
				setPhdrU64(b, 0, offPhFilesz, 0)
				setPhdrU64(b, 0, offPhMemsz, 0)
				return b
			},
			wantErr: ErrNoSegments,
		},
		{
			name:    "filesz > memsz",
			patch:   func(b []byte) []byte { setPhdrU64(b, 0, offPhFilesz, phdrU64(b, 0, offPhMemsz)+1); return b },
			wantErr: ErrBadSegment,
			wantMsg: []string{"filesz 9 > memsz 8"},
		},
		{
			name:    "segment wraps",
			patch:   func(b []byte) []byte { setPhdrU64(b, 0, offPhMemsz, math.MaxUint64); return b },
			wantErr: ErrBadSegment,
			wantMsg: []string{"wraps"},
		},
		{
			name:    "overlapping segments",
			asm:     fullAsm,
			script:  twoSegScript,
			patch:   func(b []byte) []byte { setPhdrU64(b, 1, offPhPaddr, 0x10004); return b },
			wantErr: ErrOverlap,
			wantMsg: []string{"segment 0 [0x10000, 0x10008)", "segment 1 [0x10004, 0x12014)"},
		},
		{
			name:    "entry not at base",
			asm:     strings.Replace(textAsm, "_start:", "nop\n_start:", 1),
			wantErr: ErrEntry,
			wantMsg: []string{"0x10001", "0x10000"},
		},
		{
			name:    "linked above base",
			script:  textScript(0x11000),
			wantErr: ErrBase,
			wantMsg: []string{"0x11000", "0x10000"},
		},
		{
			name:    "below the window",
			script:  textScript(0x8000),
			wantErr: ErrOutsideWindow,
			wantMsg: []string{"[0x8000, 0x8008)", "[0x10000, 0x20000)"},
		},
		{
			name:    "above the window",
			script:  textScript(0x30000),
			wantErr: ErrOutsideWindow,
			wantMsg: []string{"[0x30000, 0x30008)", "[0x10000, 0x20000)"},
		},
		{
			// A 4 KiB text page and a 388 KiB .bss: its end is also past the
			// window, but the size is what should be reported.
			name: "too large",
			asm:  textAsm + "\t.bss\n\t.space 388*1024\n",
			script: `ENTRY(_start)
PHDRS { text PT_LOAD FLAGS(5); bss PT_LOAD FLAGS(6); }
SECTIONS {
	. = 0x10000;
	.text : { *(.text*) } :text
	.rodata : { *(.rodata*) } :text
	. = ALIGN(4096);
	.bss : { *(.bss*) } :bss
	` + discard + `
}`,
			lim:     Limits{Base: 0x10000, MaxSize: 384 * 1024},
			wantErr: ErrTooLarge,
			wantMsg: []string{"in-memory size 401408 bytes (392.0 KiB) exceeds the cap of 393216 bytes (384 KiB)"},
		},
		{
			name:    "truncated in a segment",
			patch:   func(b []byte) []byte { return b[:phdrU64(b, 0, offPhOffset)+4] },
			wantErr: ErrNotELF,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := tt.raw
			if b == nil {
				asm, script := tt.asm, tt.script
				if asm == "" {
					asm = textAsm
				}
				if script == "" {
					script = textScript(0x10000)
				}
				var err error
				if b, err = os.ReadFile(buildELF(t, asm, script)); err != nil {
					t.Fatal(err)
				}
				if tt.patch != nil {
					b = tt.patch(b)
				}
			}
			lim := tt.lim
			if lim == (Limits{}) {
				lim = std
			}
			img, err := Convert(bytes.NewReader(b), lim)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Convert: got (%v, %v), want error %v", img, err, tt.wantErr)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
			// Each failure names one problem: the sentinels must not blur.
			for _, other := range []error{ErrNotELF, ErrMachine, ErrNotExecutable, ErrNoSegments, ErrBadSegment,
				ErrOverlap, ErrTooLarge, ErrOutsideWindow, ErrBase, ErrEntry} {
				if other != tt.wantErr && errors.Is(err, other) {
					t.Errorf("error %q also matches %v", err, other)
				}
			}
		})
	}
}

func TestConvertFileMissing(t *testing.T) {
	_, err := ConvertFile(filepath.Join(t.TempDir(), "nope.elf"), Limits{Base: 0x10000, MaxSize: 0x10000})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
}
