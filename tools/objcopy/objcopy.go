// Package objcopy turns an x86-64 ELF executable into the flat binary image
// of its PT_LOAD segments laid out at their physical addresses, which is what
// GNU `objcopy -O binary` produces. It is meant for bare-metal guest binaries
// that are copied into guest memory verbatim, so it also refuses binaries that
// would not run where the guest expects them.
package objcopy

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// Sentinel errors; every error returned by Convert wraps exactly one of them
// (plus, for unreadable input, the underlying error).
var (
	// ErrNotELF means the input is not a readable ELF file.
	ErrNotELF = errors.New("not an ELF file")
	// ErrMachine means the input is not a 64-bit x86-64 ELF.
	ErrMachine = errors.New("not an x86-64 ELF")
	// ErrNotExecutable means the ELF type is not ET_EXEC (e.g. a PIE or object file).
	ErrNotExecutable = errors.New("not a static executable")
	// ErrNoSegments means there is no PT_LOAD segment with a non-zero memsz.
	ErrNoSegments = errors.New("no loadable segments")
	// ErrBadSegment means a PT_LOAD header is malformed (filesz > memsz, or
	// an address range that wraps around).
	ErrBadSegment = errors.New("malformed segment")
	// ErrOverlap means two PT_LOAD segments overlap in physical memory.
	ErrOverlap = errors.New("overlapping segments")
	// ErrTooLarge means the in-memory extent exceeds Limits.MaxSize.
	ErrTooLarge = errors.New("image too large")
	// ErrOutsideWindow means a segment lies (partly) outside [Base, Base+MaxSize).
	ErrOutsideWindow = errors.New("segment outside the load window")
	// ErrBase means the lowest load address is not Limits.Base.
	ErrBase = errors.New("wrong load address")
	// ErrEntry means the entry point is not Limits.Base.
	ErrEntry = errors.New("wrong entry point")
)

// Limits says what a binary must satisfy.
type Limits struct {
	// Base is the required lowest load (physical) address of the image, and
	// the required entry point.
	Base uint64
	// MaxSize caps the in-memory extent, from Base to the end of the highest
	// segment's memsz (.bss included). Every segment must lie inside the
	// window [Base, Base+MaxSize).
	MaxSize uint64
}

// Image is the flat binary image of an ELF executable.
type Image struct {
	// Data holds the file bytes from LoadAddr to the end of the highest
	// segment's file bytes, gaps zero-filled; it is byte-identical to
	// `objcopy -O binary`. Trailing .bss is not included.
	Data []byte
	// LoadAddr is the lowest PT_LOAD physical address.
	LoadAddr uint64
	// Entry is the ELF entry point.
	Entry uint64
	// MemSize is the in-memory extent, highest (paddr+memsz) minus LoadAddr,
	// .bss included.
	MemSize uint64
}

// segment is a PT_LOAD program header that occupies memory.
type segment struct {
	index int // position in the program header table, as readelf -l numbers it
	prog  *elf.Prog
}

func (s segment) start() uint64 { return s.prog.Paddr }
func (s segment) end() uint64   { return s.prog.Paddr + s.prog.Memsz }

// String describes the segment for error messages.
func (s segment) String() string {
	return fmt.Sprintf("segment %d [%#x, %#x)", s.index, s.start(), s.end())
}

// ConvertFile is Convert on the file at path. Errors are not prefixed with
// the path; callers name the binary as they see fit.
func ConvertFile(path string, lim Limits) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Convert(f, lim)
}

// Convert reads an x86-64 ELF executable from r, checks it against lim and
// returns its flat image. Segments are placed by physical address (p_paddr),
// as GNU objcopy does for binary output; segments with zero memsz are ignored.
func Convert(r io.ReaderAt, lim Limits) (*Image, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotELF, err)
	}
	defer f.Close()

	switch {
	case f.Class != elf.ELFCLASS64:
		return nil, fmt.Errorf("%w: class is %v, want %v", ErrMachine, f.Class, elf.ELFCLASS64)
	case f.Machine != elf.EM_X86_64:
		return nil, fmt.Errorf("%w: machine is %v (%d), want %v (%d)",
			ErrMachine, f.Machine, uint16(f.Machine), elf.EM_X86_64, uint16(elf.EM_X86_64))
	case f.Type != elf.ET_EXEC:
		return nil, fmt.Errorf("%w: type is %v, want %v", ErrNotExecutable, f.Type, elf.ET_EXEC)
	}

	segs, err := loadSegments(f)
	if err != nil {
		return nil, err
	}
	img := &Image{Entry: f.Entry, LoadAddr: segs[0].start()}
	for _, s := range segs {
		img.MemSize = max(img.MemSize, s.end()-img.LoadAddr)
	}
	if err := check(img, segs, lim); err != nil {
		return nil, err
	}

	// The file image ends with the last file byte: trailing .bss is left
	// for the loader to zero, exactly like objcopy.
	var fileEnd uint64
	for _, s := range segs {
		if s.prog.Filesz > 0 {
			fileEnd = max(fileEnd, s.start()+s.prog.Filesz-img.LoadAddr)
		}
	}
	// fileEnd <= MemSize <= MaxSize, so this allocation is bounded by lim.
	img.Data = make([]byte, fileEnd)
	for _, s := range segs {
		if s.prog.Filesz == 0 {
			continue // may lie past the end of Data
		}
		off := s.start() - img.LoadAddr
		if _, err := io.ReadFull(s.prog.Open(), img.Data[off:off+s.prog.Filesz]); err != nil {
			return nil, fmt.Errorf("%w: reading %v (%d file bytes at offset %#x): %w",
				ErrNotELF, s, s.prog.Filesz, s.prog.Off, err)
		}
	}
	return img, nil
}

// loadSegments returns the PT_LOAD segments with memsz > 0, sorted by
// physical address and checked for sanity and overlap.
func loadSegments(f *elf.File) ([]segment, error) {
	var segs []segment
	for i, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Memsz == 0 {
			continue
		}
		s := segment{index: i, prog: p}
		if p.Filesz > p.Memsz {
			return nil, fmt.Errorf("%w: segment %d has filesz %d > memsz %d", ErrBadSegment, i, p.Filesz, p.Memsz)
		}
		if p.Memsz > math.MaxUint64-p.Paddr {
			return nil, fmt.Errorf("%w: segment %d at %#x with memsz %#x wraps around the address space",
				ErrBadSegment, i, p.Paddr, p.Memsz)
		}
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("%w: no PT_LOAD segment with memsz > 0 among %d program headers", ErrNoSegments, len(f.Progs))
	}
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].start() < segs[j].start() })
	// Sorted by start, any overlap shows up between neighbours.
	for i := 1; i < len(segs); i++ {
		if prev, s := segs[i-1], segs[i]; s.start() < prev.end() {
			return nil, fmt.Errorf("%w: %v and %v", ErrOverlap, prev, s)
		}
	}
	return segs, nil
}

// check applies lim. The order matters for the message: the size cap comes
// first because "too large by N bytes" is what an oversized guest needs to
// hear, even though its end also pokes out of the window; a binary linked
// for the wrong address is then caught by the window or base check, and only
// a well-placed binary with a stray ENTRY reaches the entry check.
func check(img *Image, segs []segment, lim Limits) error {
	if img.MemSize > lim.MaxSize {
		return fmt.Errorf("%w: in-memory size %d bytes (%.1f KiB) exceeds the cap of %d bytes (%s)",
			ErrTooLarge, img.MemSize, float64(img.MemSize)/1024, lim.MaxSize, kib(lim.MaxSize))
	}
	winEnd := lim.Base + lim.MaxSize
	if winEnd < lim.Base {
		winEnd = math.MaxUint64 // saturate rather than wrap
	}
	for _, s := range segs {
		if s.start() < lim.Base || s.end() > winEnd {
			return fmt.Errorf("%w: %v is not inside the window [%#x, %#x)", ErrOutsideWindow, s, lim.Base, winEnd)
		}
	}
	if img.LoadAddr != lim.Base {
		return fmt.Errorf("%w: lowest load address is %#x, want %#x", ErrBase, img.LoadAddr, lim.Base)
	}
	if img.Entry != lim.Base {
		return fmt.Errorf("%w: entry point is %#x, want %#x (the load address)", ErrEntry, img.Entry, lim.Base)
	}
	return nil
}

// kib formats n in KiB, without a fraction when it is a whole number.
func kib(n uint64) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/1024)
}
