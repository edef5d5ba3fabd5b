// Package selftest runs the self-test guest, which calls every call-table
// entry once: it reads a pattern from an input device, writes it back
// transformed to an output device, and reports a checksum, all checked here
// on the host. `instar doctor` and the VMM tests use it.
package selftest

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	"instar/embed"
	"instar/shared/guestmsg"
	"instar/vmm"
)

// Size is the pattern's size; XOR is what the guest applies to it.
const (
	Size       = 64 << 10
	SectorSize = 512
	XOR        = 0x5A
)

// Image is a whole file in memory that implements io.ReaderAt and
// io.WriterAt, for devices that need no file.
type Image struct{ Data []byte }

// ReadAt implements io.ReaderAt.
func (m *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(m.Data)) {
		return 0, fmt.Errorf("read at %d of a %d-byte image", off, len(m.Data))
	}
	n := copy(p, m.Data[off:])
	if n < len(p) {
		return n, fmt.Errorf("short read at %d", off)
	}
	return n, nil
}

// WriteAt implements io.WriterAt.
func (m *Image) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m.Data)) {
		return 0, fmt.Errorf("write of %d bytes at %d past the end of a %d-byte image", len(p), off, len(m.Data))
	}
	return copy(m.Data[off:], p), nil
}

// Run runs the self-test on acc and checks everything the guest did.
func Run(acc vmm.Accelerator) (*vmm.Result, error) {
	core, op, err := embed.Guest("selftest")
	if err != nil {
		return nil, err
	}
	in := &Image{Data: make([]byte, Size)}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range in.Data {
		in.Data[i] = byte(rng.Uint32())
	}
	out := &Image{Data: make([]byte, Size)}
	g := vmm.Start(acc, func() ([]byte, []byte, error) { return core, op, nil })
	res, err := g.Run(vmm.Config{
		Inputs:  []vmm.Input{{R: in, Size: Size, SectorSize: SectorSize}},
		Outputs: []vmm.Output{{W: out, Limit: Size, SectorSize: SectorSize}},
	})
	g.Close()
	if err != nil {
		return nil, err
	}
	if !res.Complete.GetSuccess() {
		return res, fmt.Errorf("self-test guest reported failure: %v", res.Errors)
	}
	h := fnv.New64a()
	h.Write(in.Data)
	wantLog := fmt.Sprintf("fnv1a=%016x", h.Sum64())
	if len(res.Logs) != 1 || res.Logs[0] != wantLog {
		return res, fmt.Errorf("self-test guest logged %q, want %q", res.Logs, wantLog)
	}
	want := bytes.Clone(in.Data)
	for i := range want {
		want[i] ^= XOR
	}
	if !bytes.Equal(out.Data, want) {
		return res, fmt.Errorf("self-test output differs from the input XOR %#x", XOR)
	}
	var cr guestmsg.CreateResultMessage
	if err := cr.Unmarshal(res.Complete.GetResult()); err != nil || cr.GetResolvedVirtualSize() != Size || cr.GetTargetFormat() != "raw" || cr.GetResolvedUnitSize() != SectorSize {
		return res, fmt.Errorf("self-test result is %+v (%v)", &cr, err)
	}
	if res.Complete.GetBytesWritten() != Size {
		return res, fmt.Errorf("self-test reported %d bytes written, want %d", res.Complete.GetBytesWritten(), Size)
	}
	return res, nil
}
