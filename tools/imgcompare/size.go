package imgcompare

import (
	"fmt"
	"os"
	"syscall"
)

// sizes returns the file's length and its allocated bytes: the length of
// its extents (see allocated), or st_blocks*512 where FIEMAP is missing.
func sizes(path string) (size, alloc int64, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fmt.Errorf("%s: no stat_t", path)
	}
	if n, ok := allocated(path); ok {
		return fi.Size(), n, nil
	}
	return fi.Size(), int64(st.Blocks) * 512, nil
}

// CompareSizes fails unless both files have the same length and the same
// allocated size.
func CompareSizes(ours, theirs string) error {
	sa, aa, err := sizes(ours)
	if err != nil {
		return err
	}
	sb, ab, err := sizes(theirs)
	if err != nil {
		return err
	}
	var msg string
	if sa != sb {
		msg = fmt.Sprintf("file size ours %d, theirs %d", sa, sb)
	}
	if aa != ab {
		if msg != "" {
			msg += "; "
		}
		msg += fmt.Sprintf("allocated size ours %d, theirs %d", aa, ab)
	}
	if msg != "" {
		return fmt.Errorf("%s", msg)
	}
	return nil
}
