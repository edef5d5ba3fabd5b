package shared

import "testing"

func TestMemoryMapRegionsDoNotOverlap(t *testing.T) {
	for i, a := range MemoryMap {
		if a.Size == 0 {
			t.Errorf("region %s is empty", a.Name)
		}
		if a.End() > GuestRAMSize {
			t.Errorf("region %s [%#x, %#x) lies outside guest RAM (%#x)", a.Name, a.Base, a.End(), GuestRAMSize)
		}
		for _, b := range MemoryMap[i+1:] {
			if a.Base < b.End() && b.Base < a.End() {
				t.Errorf("regions %s [%#x, %#x) and %s [%#x, %#x) overlap",
					a.Name, a.Base, a.End(), b.Name, b.Base, b.End())
			}
		}
	}
}

func TestMemoryMapIsPageAligned(t *testing.T) {
	for _, r := range MemoryMap {
		if r.Base%0x1000 != 0 || r.Size%0x1000 != 0 {
			t.Errorf("region %s [%#x, +%#x) is not page-aligned", r.Name, r.Base, r.Size)
		}
	}
}

func TestStructsFitTheirRegions(t *testing.T) {
	cases := []struct {
		name   string
		size   uintptr
		region uint64
	}{
		{"CreateConfig", sizeofCreateConfig, OperationConfigSize},
		{"DeviceTable", sizeofDeviceTable, DeviceTableSize},
	}
	for _, c := range cases {
		if uint64(c.size) > c.region {
			t.Errorf("%s is %d bytes, more than its %d-byte region", c.name, c.size, c.region)
		}
	}
}
