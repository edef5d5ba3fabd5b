package vmtest

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// xzMagic starts every XZ stream.
var xzMagic = []byte{0xFD, '7', 'z', 'X', 'Z', 0x00}

// findXZ returns the offset of the first XZ stream header in b, or -1.
func findXZ(b []byte) int {
	return bytes.Index(b, xzMagic)
}

// extractVmlinux writes to out the uncompressed ELF kernel held as an XZ
// stream inside the bzImage at bzImage. QEMU boots such an ELF through its
// PVH entry point, seconds faster under emulation than a bzImage that must
// decompress itself.
func extractVmlinux(ctx context.Context, bzImage, out string) error {
	img, err := os.ReadFile(bzImage)
	if err != nil {
		return fmt.Errorf("reading kernel image: %w", err)
	}
	off := findXZ(img)
	if off < 0 {
		return fmt.Errorf("%s: no XZ stream found (kernel not XZ-compressed?)", bzImage)
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // no-op after the rename
	// --single-stream stops after the first stream and ignores what
	// follows it in the bzImage.
	cmd := exec.CommandContext(ctx, "xz", "-dc", "--single-stream")
	cmd.Stdin = bytes.NewReader(img[off:])
	cmd.Stdout = f
	var stderr strings.Builder
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	if err := f.Close(); err != nil {
		return err
	}
	// xz may still complain about the bytes after the stream; what counts
	// is whether the output is a complete ELF.
	if err := checkELF(tmp); err != nil {
		if runErr != nil {
			err = fmt.Errorf("%w (xz: %v: %s)", err, runErr, strings.TrimSpace(stderr.String()))
		}
		return fmt.Errorf("decompressing %s: %w", bzImage, err)
	}
	return os.Rename(tmp, out)
}

// checkELF reports whether path is a complete x86-64 ELF executable.
func checkELF(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not an ELF file: %w", filepath.Base(path), err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		return fmt.Errorf("%s is %v %v, want an x86-64 executable", filepath.Base(path), f.Machine, f.Type)
	}
	if len(f.Progs) == 0 {
		return errors.New(filepath.Base(path) + " has no program headers")
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Off+p.Filesz > uint64(st.Size()) {
			return fmt.Errorf("%s is truncated: a segment ends at %d, the file at %d",
				filepath.Base(path), p.Off+p.Filesz, st.Size())
		}
	}
	return nil
}
