// Package imgcompare decides whether two disk images are "the same" by the
// five criteria of shared/design/formats.md, with qemu-img 7.2 as the
// oracle: equal `qemu-img info` JSON, a clean `qemu-img check`, `qemu-img
// compare` identical, equal file and allocated sizes, and equal bytes once
// the fields that are random by design are masked.
package imgcompare

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Mask returns byte ranges [start,end) of one file's content that are
// random by design (UUIDs, CIDs, timestamps) or checksums over them; both
// files' masks are applied before comparing bytes.
type Mask func(data []byte) [][2]int64

// Options says how to compare two images of one format.
type Options struct {
	// Format is the qemu-img format name: raw, qcow2, vmdk, vpc, vhdx.
	Format string
	// Mask may be nil.
	Mask Mask
	// InfoIgnore lists dotted JSON paths in `qemu-img info --output=json`
	// to ignore besides "filename" (e.g. "format-specific.data.cid"). A
	// path also hides everything below it.
	InfoIgnore []string
	// Check says whether `qemu-img check` applies (qcow2, vmdk, vpc, vhdx:
	// yes; raw: no).
	Check bool
	// Extra lists extra files (multi-file vmdk extents) as pairs
	// ours/theirs, compared for size, allocation and bytes (with Mask) in
	// addition to the main files.
	Extra [][2]string
	// DataFiles, when set, are the qcow2 external data files ours/theirs:
	// qemu-img opens each image with its own (it would otherwise look for
	// the name the image records relative to its working directory), and
	// they are compared for size, allocation and bytes.
	DataFiles [2]string
}

// Compare runs all five checks on ours against theirs and returns nil, or
// an error listing every difference found. Each check runs even when an
// earlier one failed, so one run shows everything that differs.
func Compare(ours, theirs string, opt Options) error {
	if opt.Format == "" {
		return errors.New("imgcompare: Options.Format is empty")
	}
	ours, err := filepath.Abs(ours)
	if err != nil {
		return err
	}
	theirs, err = filepath.Abs(theirs)
	if err != nil {
		return err
	}
	var probs []string
	add := func(what string, err error) {
		if err != nil {
			probs = append(probs, fmt.Sprintf("%s: %v", what, err))
		}
	}
	add("1 info", CompareInfo(ours, theirs, opt))
	if opt.Check {
		add("2 check", check(ours, opt.Format, opt.DataFiles[0]))
	}
	add("3 compare", qemuCompare(ours, theirs, opt.Format, opt.DataFiles))
	add("4 size", CompareSizes(ours, theirs))
	add("5 bytes", CompareBytes(ours, theirs, opt.Mask))
	extra := opt.Extra
	if opt.DataFiles[0] != "" {
		extra = append(extra[:len(extra):len(extra)], opt.DataFiles)
	}
	for _, e := range extra {
		add("4 size "+filepath.Base(e[0]), CompareSizes(e[0], e[1]))
		add("5 bytes "+filepath.Base(e[0]), CompareBytes(e[0], e[1], opt.Mask))
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("images differ (%s vs %s):\n%s", ours, theirs, strings.Join(probs, "\n"))
}
