package process

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"testing"

	"google.golang.org/protobuf/proto"

	"instar/embed"
	"instar/shared"
	"instar/shared/guestpb"
	"instar/vmm"
)

// The test harness: a minimal host for core and an operation, serving the
// port protocol itself, so the accelerator is tested in isolation from the
// VMM's run loop.

const (
	devSize     = 64 << 10
	sectorSize  = 512
	selftestXOR = 0x5A
)

// testConfig is the VM layout the VMM uses.
func testConfig() vmm.VMConfig {
	return vmm.VMConfig{
		RAMSize:  shared.GuestRAMSize,
		Entry:    shared.CoreLoadAddr,
		StackTop: shared.StackTop,
		Unmapped: []vmm.Range{
			{Start: shared.VMMPrivateBase, End: shared.VMMPrivateBase + shared.VMMPrivateSize},
			{Start: shared.StackGuardAddr, End: shared.StackGuardAddr + shared.StackGuardSize},
		},
	}
}

// guestBinary returns a binary from the embedded bundle.
func guestBinary(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := embed.Load()
	if err != nil {
		tb.Fatal(err)
	}
	bin, err := b.Get(name)
	if err != nil {
		tb.Fatal(err)
	}
	return bin.Data
}

// host is the test's device model: one input device, one output device,
// and the messages received.
type host struct {
	in, out []byte
	msgs    []*guestpb.GuestMessage
}

func newHost() *host {
	h := &host{in: make([]byte, devSize), out: make([]byte, devSize)}
	for i := range h.in {
		h.in[i] = byte(i*7 + i>>9)
	}
	return h
}

// load starts a VM with core at CoreLoadAddr, op at OperationLoadAddr and
// the device table describing h's devices.
func (h *host) load(tb testing.TB, core, op []byte) vmm.VM {
	tb.Helper()
	return h.loadWith(tb, testConfig(), core, op)
}

// loadWith is load with a VM configuration of the caller's. It locks the
// calling goroutine to its thread, vmm.VM's thread rule; a test's goroutine
// then ends locked, which retires its thread, tracer of nothing by then.
func (h *host) loadWith(tb testing.TB, cfg vmm.VMConfig, core, op []byte) vmm.VM {
	tb.Helper()
	runtime.LockOSThread()
	v, err := h.start(cfg, core, op)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// start is loadWith for a goroutine of the caller's, which must be locked
// to its thread.
func (h *host) start(cfg vmm.VMConfig, core, op []byte) (vmm.VM, error) {
	v, err := New().NewVM(cfg)
	if err != nil {
		return nil, err
	}
	mem := v.Memory()
	copy(mem[shared.CoreLoadAddr:], core)
	copy(mem[shared.OperationLoadAddr:], op)
	var t shared.DeviceTable
	t.Magic = shared.DeviceTableMagic
	t.InputCount, t.OutputCount = 1, 1
	t.Inputs[0] = shared.DeviceInfo{Size: uint64(len(h.in)), SectorSize: sectorSize}
	t.Outputs[0] = shared.DeviceInfo{Size: uint64(len(h.out)), SectorSize: sectorSize}
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, &t); err != nil || buf.Len() > shared.DeviceTableSize {
		v.Close()
		return nil, fmt.Errorf("device table: %d bytes, %v", buf.Len(), err)
	}
	copy(mem[shared.DeviceTableAddr:], buf.Bytes())
	return v, nil
}

// serve runs v, answering requests, until an exit other than a request.
func (h *host) serve(v vmm.VM) (vmm.Exit, error) {
	for {
		e, err := v.Run()
		if err != nil {
			return e, err
		}
		if e.Kind != vmm.ExitIO {
			return e, nil
		}
		if !e.Out || e.Port != shared.PortRequest || e.Size != 4 {
			return e, fmt.Errorf("unexpected I/O exit %+v", e)
		}
		if err := h.request(v.Memory(), uint64(e.Value)); err != nil {
			return e, err
		}
	}
}

// statusOffset is Request.Status's offset in the encoded descriptor.
const statusOffset = 32

// request carries out the Request descriptor at addr.
func (h *host) request(mem []byte, addr uint64) error {
	const size = 40 // binary.Size(shared.Request{})
	if addr >= uint64(len(mem)) || uint64(len(mem))-addr < size {
		return fmt.Errorf("request descriptor at %#x is outside guest RAM", addr)
	}
	var r shared.Request
	if err := binary.Read(bytes.NewReader(mem[addr:addr+size]), binary.LittleEndian, &r); err != nil {
		return err
	}
	if r.Buffer >= uint64(len(mem)) || uint64(len(mem))-r.Buffer < r.Length {
		return fmt.Errorf("request buffer [%#x, +%d) is outside guest RAM", r.Buffer, r.Length)
	}
	buf := mem[r.Buffer : r.Buffer+r.Length]
	status := int32(shared.StatusOK)
	inRange := func(dev []byte) bool {
		return r.Device == 0 && r.Offset <= uint64(len(dev)) && uint64(len(dev))-r.Offset >= r.Length
	}
	switch r.Op {
	case shared.ReqRead:
		if !inRange(h.in) {
			return fmt.Errorf("read %+v out of range", r)
		}
		copy(buf, h.in[r.Offset:])
	case shared.ReqWrite:
		if !inRange(h.out) {
			return fmt.Errorf("write %+v out of range", r)
		}
		copy(h.out[r.Offset:], buf)
	case shared.ReqMessage:
		m := &guestpb.GuestMessage{}
		if err := proto.Unmarshal(buf, m); err != nil {
			return fmt.Errorf("message: %w", err)
		}
		h.msgs = append(h.msgs, m)
	default:
		return fmt.Errorf("request %+v has a bad op", r)
	}
	binary.LittleEndian.PutUint32(mem[addr+statusOffset:], uint32(status))
	return nil
}

// check checks what the selftest operation must have done.
func (h *host) check() error {
	for i := range h.in {
		if h.out[i] != h.in[i]^selftestXOR {
			return fmt.Errorf("output byte %d is %#x, want %#x", i, h.out[i], h.in[i]^selftestXOR)
		}
	}
	sum := fnv.New64a()
	sum.Write(h.in)
	wantLog := fmt.Sprintf("fnv1a=%016x", sum.Sum64())
	var log, complete bool
	for _, m := range h.msgs {
		if l := m.GetLog(); l != nil && l.GetMessage() == wantLog {
			log = true
		}
		if c := m.GetComplete(); c != nil {
			if !c.GetSuccess() || c.GetOperation() != "selftest" || c.GetBytesWritten() != devSize {
				return fmt.Errorf("complete message %v", c)
			}
			complete = true
		}
	}
	if !log || !complete {
		return fmt.Errorf("messages %v: want a log %q and a successful complete", h.msgs, wantLog)
	}
	return nil
}

// childPid returns the pid of v's guest process.
func childPid(v vmm.VM) int { return v.(*vm).pid }

// assertGone fails unless pid no longer exists (Close reaped it: no zombie).
func assertGone(tb testing.TB, pid int) {
	tb.Helper()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !os.IsNotExist(err) {
		tb.Errorf("guest process %d still exists after Close (stat: %v)", pid, err)
	}
}
