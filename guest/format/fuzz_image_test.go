//go:build cgo

package format

// The fuzz targets' input: an image file written out byte for byte, except
// that holeMark followed by a 4-byte little-endian count stands for that
// many 512-byte sectors of zeros. The images these parsers read are mostly
// holes (a vhdx's metadata at 2 MiB and its BAT at 3 MiB, a fixed VHD's
// footer at its end), so a seed stays a few KiB and the fuzzer spends its
// time on the bytes that matter, while an input without the mark is simply
// the file.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
)

const (
	holeMark = "\xf0HOLE\x0f"
	// fuzzMaxImage bounds an input's expanded length: large enough for
	// every structure a parser looks for, small enough that a parser
	// reading all of it stays quick.
	fuzzMaxImage = 16 << 20
)

// fuzzImage is a decoded input: literal pieces at their offsets, zeros
// elsewhere, size bytes in all.
type fuzzImage struct {
	pieces []imagePiece
	size   int64
}

type imagePiece struct {
	off  int64
	data []byte
}

// decodeImage expands in (see the file comment).
func decodeImage(in []byte) *fuzzImage {
	im := &fuzzImage{}
	for len(in) > 0 {
		i := bytes.Index(in, []byte(holeMark))
		if i < 0 || len(in)-i < len(holeMark)+4 {
			im.literal(in)
			break
		}
		im.literal(in[:i])
		n := int64(binary.LittleEndian.Uint32(in[i+len(holeMark):])) * 512
		im.size = min(im.size+n, fuzzMaxImage)
		in = in[i+len(holeMark)+4:]
	}
	return im
}

func (im *fuzzImage) literal(p []byte) {
	p = p[:min(int64(len(p)), fuzzMaxImage-im.size)]
	if len(p) > 0 {
		im.pieces = append(im.pieces, imagePiece{im.size, p})
		im.size += int64(len(p))
	}
}

// ReadAt serves the image; the cgo source refuses reads outside it before
// they get here.
func (im *fuzzImage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > im.size || int64(len(p)) > im.size-off {
		return 0, fmt.Errorf("read of %d at %d outside an image of %d", len(p), off, im.size)
	}
	clear(p)
	for _, pc := range im.pieces {
		lo, hi := max(off, pc.off), min(off+int64(len(p)), pc.off+int64(len(pc.data)))
		if lo < hi {
			copy(p[lo-off:hi-off], pc.data[lo-pc.off:hi-pc.off])
		}
	}
	return len(p), nil
}

// writeFile writes the image to path, holes left sparse.
func (im *fuzzImage) writeFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	for _, pc := range im.pieces {
		if _, err := f.WriteAt(pc.data, pc.off); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Truncate(im.size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// encodeImage is decodeImage's inverse for a seed: every run of two or
// more whole zero sectors becomes a hole. It fails on a file that holds
// holeMark itself.
func encodeImage(file []byte) ([]byte, error) {
	if bytes.Contains(file, []byte(holeMark)) {
		return nil, fmt.Errorf("the file holds the hole mark")
	}
	zero := make([]byte, 512)
	var out []byte
	for i := 0; i < len(file); {
		n := 0
		for i+(n+1)*512 <= len(file) && bytes.Equal(file[i+n*512:i+(n+1)*512], zero) {
			n++
		}
		if n >= 2 {
			out = append(out, holeMark...)
			out = binary.LittleEndian.AppendUint32(out, uint32(n))
			i += n * 512
			continue
		}
		end := min(i+512, len(file))
		out = append(out, file[i:end]...)
		i = end
	}
	return out, nil
}
