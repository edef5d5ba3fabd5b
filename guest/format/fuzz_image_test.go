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
	"hash/crc32"
	"os"

	"instar/shared"
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

// region returns a copy of [off, off+n) of the image; ok is false when it
// reaches past the end.
func (im *fuzzImage) region(off int64, n int) (p []byte, ok bool) {
	if off < 0 || off+int64(n) > im.size {
		return nil, false
	}
	p = make([]byte, n)
	im.ReadAt(p, off)
	return p, true
}

// overlay writes p at off of the image (which it must lie within): later
// pieces win in ReadAt.
func (im *fuzzImage) overlay(off int64, p []byte) {
	im.pieces = append(im.pieces, imagePiece{off, p})
}

// fixChecksums makes the checksums of format's fixed structures right
// again after a mutation, so that mutations of what they cover reach the
// code behind the check: a vhdx's headers and region tables (CRC-32C), a
// VHD's footers (ones' complement sum). A structure that does not lie
// wholly inside the image is left alone.
func fixChecksums(im *fuzzImage, format uint32) {
	switch format {
	case shared.FormatVhdx:
		for _, s := range []struct{ off, len int64 }{{64 << 10, 4 << 10}, {128 << 10, 4 << 10}, {192 << 10, 64 << 10}, {256 << 10, 64 << 10}} {
			if p, ok := im.region(s.off, int(s.len)); ok {
				clear(p[4:8])
				binary.LittleEndian.PutUint32(p[4:], crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli)))
				im.overlay(s.off, p)
			}
		}
	case shared.FormatVpc:
		for _, off := range []int64{0, (im.size+511)/512*512 - 512} {
			if p, ok := im.region(off, 512); ok {
				var sum uint32
				for i, b := range p {
					if i < 64 || i >= 68 {
						sum += uint32(b)
					}
				}
				binary.BigEndian.PutUint32(p[64:], ^sum)
				im.overlay(off, p)
			}
		}
	}
}
