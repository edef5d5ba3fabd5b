package shared

import "unsafe"

var (
	sizeofCreateConfig = unsafe.Sizeof(CreateConfig{})
	sizeofDeviceTable  = unsafe.Sizeof(DeviceTable{})
)
