package vmm

import (
	"bytes"
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
	return decodeRequest(b), nil
}

// decodeRequest reads a descriptor's fields from its requestSize bytes.
func decodeRequest(b []byte) shared.Request {
	le := binary.LittleEndian
	return shared.Request{
		Op:     le.Uint32(b[0:]),
		Device: le.Uint32(b[4:]),
		Offset: le.Uint64(b[8:]),
		Length: le.Uint64(b[16:]),
		Buffer: le.Uint64(b[24:]),
	}
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
	case shared.ReqBatch:
		return m.batch(r)
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
	case shared.ReqMessages:
		return m.messages(r)
	}
	return shared.StatusBadRequest, nil
}

// messages handles a ReqMessages: the list is copied out of guest memory
// once, then each length-prefixed message is checked and handled in turn.
// Any malformed entry, or one after the completion, ends the run.
func (m *machine) messages(r shared.Request) (int32, error) {
	if r.Length == 0 || r.Length > shared.MaxMessagesBytes {
		return 0, fmt.Errorf("%w: a list of %d bytes; lists are 1 to %d bytes", errBadMessage, r.Length, shared.MaxMessagesBytes)
	}
	buf, ok := guestBuffer(m.mem, r.Buffer, r.Length)
	if !ok {
		return 0, fmt.Errorf("%w: buffer [%#x, +%d) lies outside guest RAM", errBadMessage, r.Buffer, r.Length)
	}
	list := bytes.Clone(buf)
	for off := 0; off < len(list); {
		if m.res.Complete != nil {
			return 0, fmt.Errorf("%w: a message follows the completion at byte %d of the list", errBadMessage, off)
		}
		if len(list)-off < 4 {
			return 0, fmt.Errorf("%w: %d bytes at byte %d of the list are no length", errBadMessage, len(list)-off, off)
		}
		n := uint64(binary.LittleEndian.Uint32(list[off:]))
		off += 4
		if n == 0 || n > shared.MaxMessageSize || n > uint64(len(list)-off) {
			return 0, fmt.Errorf("%w: a message of %d bytes at byte %d of a %d-byte list; messages are 1 to %d bytes and lie inside it",
				errBadMessage, n, off-4, len(list), shared.MaxMessageSize)
		}
		if err := m.message(list[off : off+int(n)]); err != nil {
			return 0, err
		}
		off += int(n)
	}
	return shared.StatusOK, nil
}

// errHostWrite marks a write the host failed to make (a full disk, say):
// not the guest's doing, and the run cannot succeed, so it ends the run
// with the host's error.
var errHostWrite = errors.New("write the image")

func (m *machine) transfer(r shared.Request) (int32, error) {
	if r.Op == shared.ReqWrite {
		w, status := m.checkWrite(r)
		if status != shared.StatusOK {
			return status, nil
		}
		return shared.StatusOK, m.write(w)
	}
	if r.Length > shared.MaxTransfer {
		return shared.StatusBadRequest, nil
	}
	buf, ok := guestBuffer(m.mem, r.Buffer, r.Length)
	if !ok {
		return shared.StatusBadBuffer, nil
	}
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

// checkedWrite is a write request that passed every check.
type checkedWrite struct {
	device uint32
	offset uint64
	buf    []byte
}

// checkWrite checks a write request's every field: its length, its buffer
// (in guest RAM the guest owns), its device and its range below the
// device's limit.
func (m *machine) checkWrite(r shared.Request) (checkedWrite, int32) {
	if r.Op != shared.ReqWrite || r.Length > shared.MaxTransfer {
		return checkedWrite{}, shared.StatusBadRequest
	}
	buf, ok := guestBuffer(m.mem, r.Buffer, r.Length)
	if !ok {
		return checkedWrite{}, shared.StatusBadBuffer
	}
	if r.Device >= uint32(len(m.cfg.Outputs)) {
		return checkedWrite{}, shared.StatusBadRequest
	}
	if !inRange(r.Offset, r.Length, m.cfg.Outputs[r.Device].Limit) {
		return checkedWrite{}, shared.StatusOutOfRange
	}
	return checkedWrite{device: r.Device, offset: r.Offset, buf: buf}, shared.StatusOK
}

func (m *machine) write(w checkedWrite) error {
	if _, err := m.cfg.Outputs[w.device].W.WriteAt(w.buf, int64(w.offset)); err != nil {
		return fmt.Errorf("%w: %d bytes at offset %d of output %d: %w", errHostWrite, len(w.buf), w.offset, w.device, err)
	}
	return nil
}

// batch performs a ReqBatch: the entry array is copied out once, every
// entry is checked before any is performed, and every entry's status is
// written back after (so no status lands in a buffer still to be written).
// A batch whose own fields are wrong is refused whole, its entries
// untouched.
func (m *machine) batch(r shared.Request) (int32, error) {
	if r.Device != 0 || r.Offset != 0 || r.Length == 0 || r.Length > shared.MaxBatch {
		return shared.StatusBadRequest, nil
	}
	if r.Buffer%8 != 0 {
		return shared.StatusBadBuffer, nil
	}
	raw, ok := guestBuffer(m.mem, r.Buffer, r.Length*requestSize)
	if !ok {
		return shared.StatusBadBuffer, nil
	}
	n := int(r.Length)
	if cap(m.writes) < n {
		m.writes = make([]checkedWrite, n)
		m.statuses = make([]int32, n)
	}
	writes, statuses := m.writes[:n], m.statuses[:n]
	batchStatus := int32(shared.StatusOK)
	var bytes uint64
	for i := range writes {
		e := decodeRequest(raw[uint64(i)*requestSize:])
		writes[i], statuses[i] = m.checkWrite(e)
		// Each entry is at most MaxTransfer, so the sum cannot wrap.
		if statuses[i] == shared.StatusOK {
			if bytes += e.Length; bytes > shared.MaxBatchBytes {
				statuses[i] = shared.StatusBadRequest
			}
		}
		if statuses[i] != shared.StatusOK && batchStatus == shared.StatusOK {
			batchStatus = statuses[i]
		}
	}
	if batchStatus == shared.StatusOK {
		for _, w := range writes {
			if err := m.write(w); err != nil {
				return 0, err
			}
		}
	} else {
		for i := range statuses {
			if statuses[i] == shared.StatusOK {
				statuses[i] = shared.StatusSkipped
			}
		}
	}
	for i, st := range statuses {
		writeStatus(m.mem, r.Buffer+uint64(i)*requestSize, st)
	}
	clear(writes) // no slice of guest memory outlives the exit
	return batchStatus, nil
}
