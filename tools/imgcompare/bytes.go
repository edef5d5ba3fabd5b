package imgcompare

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// maxReported caps how many differing runs an error lists.
const maxReported = 16

// mapped is a read-only mapping of a whole file; holes read as zeros and
// cost no memory, so multi-terabyte sparse images are cheap.
type mapped struct {
	data []byte
	f    *os.File
}

func mapFile(path string) (*mapped, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	m := &mapped{f: f}
	if fi.Size() > 0 {
		m.data, err = unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("mmap %s: %w", path, err)
		}
	}
	return m, nil
}

func (m *mapped) close() {
	if m.data != nil {
		_ = unix.Munmap(m.data)
	}
	m.f.Close()
}

// dataExtents lists the file's data regions by SEEK_DATA/SEEK_HOLE; a file
// system without them reports the whole file as data.
func (m *mapped) dataExtents() [][2]int64 {
	size := int64(len(m.data))
	fd := int(m.f.Fd())
	var ext [][2]int64
	for off := int64(0); off < size; {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		if err != nil {
			return [][2]int64{{0, size}}
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return [][2]int64{{0, size}}
		}
		ext = append(ext, [2]int64{start, end})
		off = end
	}
	return ext
}

// merge sorts ranges, clips them to [0,limit) and joins overlapping ones.
func merge(r [][2]int64, limit int64) [][2]int64 {
	var in [][2]int64
	for _, x := range r {
		if x[0] < 0 {
			x[0] = 0
		}
		if x[1] > limit {
			x[1] = limit
		}
		if x[0] < x[1] {
			in = append(in, x)
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i][0] < in[j][0] })
	var out [][2]int64
	for _, x := range in {
		if n := len(out); n > 0 && x[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], x[1])
			continue
		}
		out = append(out, x)
	}
	return out
}

// subtract removes the (merged, sorted) holes from the (merged, sorted)
// ranges.
func subtract(ranges, holes [][2]int64) [][2]int64 {
	var out [][2]int64
	for _, r := range ranges {
		s := r[0]
		for _, h := range holes {
			if h[1] <= s || h[0] >= r[1] {
				continue
			}
			if h[0] > s {
				out = append(out, [2]int64{s, h[0]})
			}
			s = max(s, h[1])
		}
		if s < r[1] {
			out = append(out, [2]int64{s, r[1]})
		}
	}
	return out
}

// CompareBytes fails unless the two files hold the same bytes outside the
// ranges mask returns for either of them (mask may be nil). Regions that
// are holes in both files are equal without being read.
func CompareBytes(ours, theirs string, mask Mask) error {
	a, err := mapFile(ours)
	if err != nil {
		return err
	}
	defer a.close()
	b, err := mapFile(theirs)
	if err != nil {
		return err
	}
	defer b.close()

	var probs []string
	limit := int64(min(len(a.data), len(b.data)))
	if len(a.data) != len(b.data) {
		probs = append(probs, fmt.Sprintf("lengths differ: ours %d, theirs %d (comparing the first %d)", len(a.data), len(b.data), limit))
	}
	var masked [][2]int64
	if mask != nil {
		masked = append(mask(a.data), mask(b.data)...)
	}
	masked = merge(masked, limit)
	regions := merge(append(a.dataExtents(), b.dataExtents()...), limit)
	regions = subtract(regions, masked)

	var runs []string
	total := 0
	var diffBytes int64
	for _, r := range regions {
		const chunk = 1 << 20
		for s := r[0]; s < r[1]; s += chunk {
			e := min(s+chunk, r[1])
			if bytes.Equal(a.data[s:e], b.data[s:e]) {
				continue
			}
			for i := s; i < e; {
				if a.data[i] == b.data[i] {
					i++
					continue
				}
				j := i
				for j < e && a.data[j] != b.data[j] {
					j++
				}
				total++
				diffBytes += j - i
				if len(runs) < maxReported {
					runs = append(runs, fmt.Sprintf("[%#x,%#x): ours % x, theirs % x", i, j,
						a.data[i:min(j, i+8)], b.data[i:min(j, i+8)]))
				}
				i = j
			}
		}
	}
	if total > 0 {
		probs = append(probs, fmt.Sprintf("%d differing bytes in %d runs, first ones:\n  %s", diffBytes, total, strings.Join(runs, "\n  ")))
	}
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "\n"))
	}
	return nil
}
