package embed

import (
	"testing"

	"instar/shared"
)

func TestEmbeddedBundleHasTheGuest(t *testing.T) {
	b, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for name, addr := range map[string]uint64{"core": shared.CoreLoadAddr, "selftest": shared.OperationLoadAddr} {
		bin, err := b.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if bin.LoadAddr != addr || len(bin.Data) == 0 {
			t.Errorf("%s: load %#x, %d bytes; want load %#x", name, bin.LoadAddr, len(bin.Data), addr)
		}
	}
}
