package shared

import (
	"bytes"
	"encoding/binary"
	"unsafe"
)

// Encode returns what the guest reads for v: the struct in little-endian
// byte order, laid out as C lays it out (cheader.TestHeaderMatchesGo), which is what
// binary.Write writes followed by the struct's tail padding, if any. The
// structs have no padding between fields (TestEncode), so on a
// little-endian host that is their memory, returned without binary.Write's
// reflection, which every guest run would pay. The result aliases v on
// such hosts.
func Encode[T CreateConfig | DeviceTable | Request | CreateResult | InfoConfig | InspectConfig](v *T) []byte {
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
	}
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, v) // fixed-size types: cannot fail
	return b.Bytes()
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
