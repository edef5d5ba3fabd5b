package vmm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"instar/shared"
)

// requestSize is the size of the descriptor in guest memory.
const requestSize = uint64(unsafe.Sizeof(shared.Request{}))

// statusOffset is where the VMM writes the status back.
const statusOffset = uint64(unsafe.Offsetof(shared.Request{}.Status))

// guestBuffer returns guest memory [addr, addr+n) if it lies wholly in RAM the
// guest owns: never the VMM-private region, where the page tables live.
func guestBuffer(mem []byte, addr, n uint64) ([]byte, bool) {
	lo := uint64(shared.VMMPrivateBase + shared.VMMPrivateSize)
	size := uint64(len(mem))
	if addr < lo || addr > size || n > size-addr {
		return nil, false
	}
	return mem[addr : addr+n], true
}

// readRequest copies the descriptor out of guest memory once, so the guest
// cannot change it while the VMM checks and uses it.
func readRequest(mem []byte, addr uint64) (shared.Request, error) {
	var r shared.Request
	if addr%8 != 0 {
		return r, fmt.Errorf("request descriptor at %#x is not 8-byte aligned", addr)
	}
	b, ok := guestBuffer(mem, addr, requestSize)
	if !ok {
		return r, fmt.Errorf("request descriptor at %#x lies outside guest RAM", addr)
	}
	le := binary.LittleEndian
	r.Op = le.Uint32(b[0:])
	r.Device = le.Uint32(b[4:])
	r.Offset = le.Uint64(b[8:])
	r.Length = le.Uint64(b[16:])
	r.Buffer = le.Uint64(b[24:])
	return r, nil
}

func writeStatus(mem []byte, addr uint64, status int32) {
	binary.LittleEndian.PutUint32(mem[addr+statusOffset:], uint32(status))
}

// inRange reports whether [off, off+n) fits below limit, without overflow.
func inRange(off, n, limit uint64) bool {
	return off <= limit && n <= limit-off
}

// serve performs one request. A request the guest got wrong is answered
// with an error status, so the guest can report it; only a bad message
// (which would leave host and guest out of step) ends the run.
func (m *machine) serve(r shared.Request) (int32, error) {
	switch r.Op {
	case shared.ReqRead, shared.ReqWrite:
		return m.transfer(r)
	case shared.ReqMessage:
		if r.Length == 0 || r.Length > shared.MaxMessageSize {
			return 0, fmt.Errorf("%w: %d bytes; messages are 1 to %d bytes", errBadMessage, r.Length, shared.MaxMessageSize)
		}
		buf, ok := guestBuffer(m.mem, r.Buffer, r.Length)
		if !ok {
			return 0, fmt.Errorf("%w: buffer [%#x, +%d) lies outside guest RAM", errBadMessage, r.Buffer, r.Length)
		}
		if err := m.message(buf); err != nil {
			return 0, err
		}
		return shared.StatusOK, nil
	}
	return shared.StatusBadRequest, nil
}

// errHostWrite marks a write the host failed to make (a full disk, say):
// not the guest's doing, and the run cannot succeed, so it ends the run
// with the host's error.
var errHostWrite = errors.New("write the image")

func (m *machine) transfer(r shared.Request) (int32, error) {
	if r.Length > shared.MaxTransfer {
		return shared.StatusBadRequest, nil
	}
	buf, ok := guestBuffer(m.mem, r.Buffer, r.Length)
	if !ok {
		return shared.StatusBadBuffer, nil
	}
	if r.Op == shared.ReqRead {
		if r.Device >= uint32(len(m.cfg.Inputs)) {
			return shared.StatusBadRequest, nil
		}
		in := m.cfg.Inputs[r.Device]
		if !inRange(r.Offset, r.Length, in.Size) {
			return shared.StatusOutOfRange, nil
		}
		if n, err := in.R.ReadAt(buf, int64(r.Offset)); n != len(buf) {
			_ = err // a short read (the file shrank) is an I/O error to the guest
			return shared.StatusIOError, nil
		}
		return shared.StatusOK, nil
	}
	if r.Device >= uint32(len(m.cfg.Outputs)) {
		return shared.StatusBadRequest, nil
	}
	out := m.cfg.Outputs[r.Device]
	if !inRange(r.Offset, r.Length, out.Limit) {
		return shared.StatusOutOfRange, nil
	}
	if _, err := out.W.WriteAt(buf, int64(r.Offset)); err != nil {
		return 0, fmt.Errorf("%w: %d bytes at offset %d of output %d: %w", errHostWrite, len(buf), r.Offset, r.Device, err)
	}
	return shared.StatusOK, nil
}
