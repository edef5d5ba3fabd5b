package imgcreate

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"instar/shared"
)

// outputFile is one file the create guest writes, and how far it may.
type outputFile struct {
	name  string
	limit uint64
}

// vmdkExtent is the most a twoGbMaxExtent extent holds.
const vmdkExtent = 2 << 30

// outputFiles lists the files a create writes: the image, and for the
// multi-file vmdk subformats its extents, named as qemu-img names them.
// The guest lays them out; the host decides which files exist and bounds
// what the guest may write to each.
func outputFiles(image string, cfg *shared.CreateConfig) ([]outputFile, error) {
	files := []outputFile{{image, outputLimit(cfg)}}
	if cfg.TargetFormat != shared.FormatVmdk || cfg.VmdkSubformat < shared.VmdkMonolithicFlat {
		return files, nil
	}
	files[0].limit = 1 << 20 // just the descriptor
	size := roundUp(cfg.VirtualSize)
	var extents []uint64
	switch cfg.VmdkSubformat {
	case shared.VmdkMonolithicFlat:
		if size > 0 {
			extents = []uint64{size}
		}
	default:
		for off := uint64(0); off < size; off += vmdkExtent {
			extents = append(extents, min(vmdkExtent, size-off))
		}
	}
	if len(extents)+1 > shared.MaxOutputs {
		return nil, fmt.Errorf("%d extent files; instar writes at most %d", len(extents), shared.MaxOutputs-1)
	}
	flat := cfg.VmdkSubformat != shared.VmdkTwoGbMaxExtentSparse
	dir, base := filepath.Split(image)
	for i, n := range extents {
		limit := n // a flat extent is its data, nothing more
		if !flat {
			limit = n + n/8 + 16<<20
		}
		files = append(files, outputFile{filepath.Join(dir, extentName(base, cfg.VmdkSubformat, i+1)), limit})
	}
	return files, nil
}

// extentName is qemu-img's: the image's base name split at its last '.',
// with "-flat", "-sNNN" or "-fNNN" inserted ("disk.vmdk" -> "disk-s001.vmdk").
func extentName(base string, subformat uint8, i int) string {
	stem, ext := base, ""
	if dot := strings.LastIndexByte(base, '.'); dot >= 0 {
		stem, ext = base[:dot], base[dot:]
	}
	switch subformat {
	case shared.VmdkMonolithicFlat:
		return stem + "-flat" + ext
	case shared.VmdkTwoGbMaxExtentSparse:
		return fmt.Sprintf("%s-s%03d%s", stem, i, ext)
	}
	return fmt.Sprintf("%s-f%03d%s", stem, i, ext)
}

// withTempFile creates a temporary file beside name, lets fill write it,
// and renames it to name only if fill succeeds; otherwise it is removed.
func withTempFile(name string, fill func(*os.File) error) error {
	return withTempFiles([]string{name}, func(fs []*os.File) error { return fill(fs[0]) })
}

// withTempFiles does the same for several files. They are renamed into
// place last to first, so the first (the image a user opens) appears only
// once everything it refers to is there.
func withTempFiles(names []string, fill func([]*os.File) error) (err error) {
	files := make([]*os.File, 0, len(names))
	temps := make([]string, 0, len(names))
	defer func() {
		for _, f := range files {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("close image: %w", cerr)
			}
		}
		for i := len(temps) - 1; err == nil && i >= 0; i-- {
			if rerr := os.Rename(temps[i], names[i]); rerr != nil {
				err = fmt.Errorf("put %s in place: %w", names[i], rerr)
			}
			temps[i] = ""
		}
		for _, t := range temps {
			if t != "" {
				os.Remove(t)
			}
		}
	}()
	for _, name := range names {
		f, tmp, err := createTemp(name)
		if err != nil {
			return err
		}
		files, temps = append(files, f), append(temps, tmp)
	}
	return fill(files)
}

// createTemp makes a new, empty file beside name with the permissions a
// new file gets (0666 less the umask), which os.CreateTemp would not give.
func createTemp(name string) (*os.File, string, error) {
	dir, base := filepath.Split(name)
	if dir == "" {
		dir = "."
	}
	for i := 0; ; i++ {
		var rnd [6]byte
		rand.Read(rnd[:])
		tmp := filepath.Join(dir, fmt.Sprintf(".%s.instar-%x", base, rnd))
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			return f, tmp, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 10 {
			return nil, "", fmt.Errorf("create a temporary file in %s: %w", dir, errors.Unwrap(err))
		}
	}
}
