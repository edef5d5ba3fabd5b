// Package shared is the single source of truth for everything the host and
// the guest must agree on: the guest memory map, the port-I/O protocol, and
// every struct the host writes into (or reads from) guest memory.
//
// The C header the guest includes, guest/include/instar/shared.h, is
// generated from this package by `mage generate` (see tools/cheader); a test
// compiles it and checks every size and offset against this package.
package shared

// Guest memory map. Addresses are guest-physical and, because the VMM
// identity-maps guest RAM, also guest-virtual.
const (
	// VMMPrivateBase is the start of the VMM's private region (page
	// tables, GDT). Guest code never touches it; the kvm accelerator leaves
	// it unmapped in the guest page tables.
	VMMPrivateBase = 0x0
	// VMMPrivateSize is the size of the VMM's private region.
	VMMPrivateSize = 0x10000

	// CoreLoadAddr is where core.bin is loaded; it is also core's entry.
	CoreLoadAddr = 0x10000
	// CoreMaxSize caps core's in-memory extent, .bss included.
	CoreMaxSize = 0x10000

	// OperationLoadAddr is where an operation binary (create.bin, ...) is
	// loaded; its _start is at this address.
	OperationLoadAddr = 0x20000
	// OperationMaxSize caps an operation's in-memory extent (384 KiB).
	OperationMaxSize = 0x60000

	// CallTableAddr is where core publishes the call table for operations.
	CallTableAddr = 0x80000
	// CallTableSize is the space reserved for the call table.
	CallTableSize = 0x1000

	// OperationConfigAddr is where the host writes the operation's config
	// (CreateConfig for create).
	OperationConfigAddr = 0x81000
	// OperationConfigSize is the space reserved for the config.
	OperationConfigSize = 0x2000

	// DeviceTableAddr is where the host describes the attached devices.
	// The guest reads it; the VMM never reads it back.
	DeviceTableAddr = 0x83000
	// DeviceTableSize is the space reserved for the device table.
	DeviceTableSize = 0x2000

	// InputHeadAddr is where the host copies the first bytes of input
	// device 0 before the guest runs (DeviceTable.HeadSize says how
	// many): every format keeps its header there, so a probe and a
	// header parse need no exit.
	InputHeadAddr = 0x100000
	// InputHeadSize is the most of input 0 copied to InputHeadAddr.
	InputHeadSize = 0x10000

	// ScratchMemBase is the start of the operation's scratch memory.
	ScratchMemBase = 0x300000
	// ScratchMemEnd is the end (exclusive) of scratch memory.
	ScratchMemEnd = 0xFF0000
	// AllocHeapSize is the size of the allocator heap at the top of scratch.
	AllocHeapSize = 0x80000
	// AllocHeapBase is the start of the allocator heap.
	AllocHeapBase = ScratchMemEnd - AllocHeapSize

	// StackGuardAddr is an unmapped page between scratch and the stack, so a
	// stack overflow faults instead of corrupting scratch.
	StackGuardAddr = 0xFF0000
	// StackGuardSize is the size of the guard page.
	StackGuardSize = 0x1000
	// StackBase is the lowest address of the guest stack.
	StackBase = StackGuardAddr + StackGuardSize
	// StackTop is the initial stack pointer (the stack grows down).
	StackTop = GuestRAMSize

	// GuestRAMSize is the size of guest RAM. Nothing above it is mapped.
	GuestRAMSize = 0x1000000

	// MaxSectorSize is the largest sector size a device may have.
	MaxSectorSize = 0x10000
	// MaxClusterSize is the largest qcow2 cluster size.
	MaxClusterSize = 0x200000
	// MaxTransfer is the largest byte count one device request may move.
	MaxTransfer = 0x100000
	// MaxMessageSize is the largest encoded GuestMessage the VMM accepts.
	MaxMessageSize = 0x2000
)

// Region is one named range of the guest memory map.
//
//cheader:omit
type Region struct {
	Name string
	Base uint64
	Size uint64
}

// End returns the first address after the region.
func (r Region) End() uint64 { return r.Base + r.Size }

// MemoryMap lists the regions of guest RAM in address order. A test checks
// that no two overlap and that all lie inside guest RAM.
var MemoryMap = []Region{
	{"vmm-private", VMMPrivateBase, VMMPrivateSize},
	{"core", CoreLoadAddr, CoreMaxSize},
	{"operation", OperationLoadAddr, OperationMaxSize},
	{"call-table", CallTableAddr, CallTableSize},
	{"operation-config", OperationConfigAddr, OperationConfigSize},
	{"device-table", DeviceTableAddr, DeviceTableSize},
	{"input-head", InputHeadAddr, InputHeadSize},
	{"scratch", ScratchMemBase, AllocHeapBase - ScratchMemBase},
	{"alloc-heap", AllocHeapBase, AllocHeapSize},
	{"stack-guard", StackGuardAddr, StackGuardSize},
	{"stack", StackBase, StackTop - StackBase},
}

// Port-I/O protocol. The guest makes every request with one 32-bit OUT to
// PortRequest whose value is the guest address of a Request descriptor.
const (
	// PortRequest is the doorbell port for Request descriptors.
	PortRequest = 0x0600
)

// Request operations (Request.Op).
const (
	// ReqRead reads Length bytes at Offset of input device Device.
	ReqRead = 1
	// ReqWrite writes Length bytes at Offset of output device Device.
	ReqWrite = 2
	// ReqMessage sends the Length-byte GuestMessage at Buffer.
	ReqMessage = 3
	// ReqBatch performs the Length write Requests of the array at Buffer,
	// in order, in one exit (Device and Offset are zero). The VMM copies
	// the array out once and checks every entry as a single ReqWrite is
	// checked before it performs any; when one is refused, none is
	// performed, each entry gets its own verdict (StatusSkipped for the
	// good ones) and the batch the first refused entry's.
	ReqBatch = 4
	// ReqMessages sends the GuestMessages at Buffer, Length bytes in
	// all (1 to MaxMessagesBytes): each a 4-byte little-endian length (1
	// to MaxMessageSize) and that many bytes. The VMM copies them out
	// once and handles each in order as ReqMessage handles one; nothing
	// may follow a CompleteMessage. Core queues an operation's own
	// messages so, and hands them over before any other request and
	// before it halts: a table of entries costs one exit, not one each.
	ReqMessages = 5
)

// MaxMessagesBytes is the most bytes one ReqMessages may carry.
const MaxMessagesBytes = 0x4000

// Batch bounds: an exit costs far more than a write, so the create
// operation queues its non-adjacent writes and hands them over together.
const (
	// MaxBatch is the most entries one ReqBatch may carry.
	MaxBatch = 1024
	// MaxBatchBytes is the most bytes the entries of one ReqBatch may
	// move in all.
	MaxBatchBytes = 0x100000
)

// Request statuses (Request.Status), written by the VMM.
const (
	// StatusOK means the request was carried out in full.
	StatusOK = 0
	// StatusBadRequest means a field was invalid (op, device, alignment).
	StatusBadRequest = -1
	// StatusOutOfRange means the byte range lies outside the device limit.
	StatusOutOfRange = -2
	// StatusBadBuffer means the buffer lies outside guest RAM.
	StatusBadBuffer = -3
	// StatusIOError means the host's read or write failed.
	StatusIOError = -4
	// StatusSkipped marks a batch entry that was valid but not performed,
	// because another entry of its batch was refused.
	StatusSkipped = -5
	// StatusPending is what the guest writes before ringing the doorbell,
	// so a request the VMM never answered is distinguishable.
	StatusPending = -100
)

// Request is the descriptor of one device request or message, in guest
// memory. The VMM copies it out once, checks every field, and writes back
// only Status.
type Request struct {
	Op       uint32
	Device   uint32
	Offset   uint64
	Length   uint64
	Buffer   uint64
	Status   int32
	Reserved uint32
}

// Device table limits.
const (
	// MaxInputs is the most input (read-only) devices a guest can have.
	MaxInputs = 8
	// MaxOutputs is the most output devices (multi-file vmdk needs several).
	MaxOutputs = 255
	// DeviceTableMagic marks a valid DeviceTable ("DEVT").
	DeviceTableMagic = 0x54564544
)

// DeviceInfo describes one device to the guest.
type DeviceInfo struct {
	// Size is the device's size in bytes: an input's length, or an
	// output's writable limit.
	Size uint64
	// SectorSize is the device's sector size in bytes.
	SectorSize uint32
	// Flags is reserved and zero.
	Flags uint32
}

// DeviceTable is written by the host at DeviceTableAddr before the guest runs.
type DeviceTable struct {
	Magic       uint32
	InputCount  uint32
	OutputCount uint32
	// HeadSize is how many bytes of input 0, from its start, the host
	// copied to InputHeadAddr: a read that lies within them is served
	// from there by the guest, without an exit.
	HeadSize uint32
	Inputs   [MaxInputs]DeviceInfo
	Outputs  [MaxOutputs]DeviceInfo
}

// CallTableMagic marks a call table that core has filled ("CALL").
const CallTableMagic = 0x4C4C4143
