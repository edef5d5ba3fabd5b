//go:build cgo

package format

import (
	"path/filepath"
	"testing"

	"instar/shared"
)

// TestBadOptions: what the vpc and vhdx drivers refuse (qemu has no
// such option or value for them), and a neighbour they accept.
func TestBadOptions(t *testing.T) {
	const mib = 1 << 20
	vhdx := func() *shared.CreateConfig { return vhdxCase{size: mib}.config() }
	vpc := func() *shared.CreateConfig { return vpcCase{size: mib}.config() }
	for _, tc := range []struct {
		name string
		base func() *shared.CreateConfig
		mod  func(*shared.CreateConfig)
		want uint32
	}{
		{"vhdx subformat", vhdx, func(c *shared.CreateConfig) { c.VhdSubformat = 2 }, shared.CreateErrInvalidOption},
		{"vhdx prealloc", vhdx, func(c *shared.CreateConfig) { c.Preallocation = shared.PreallocFull }, shared.CreateErrInvalidOption},
		{"vhdx backing", vhdx, func(c *shared.CreateConfig) { c.BackingFileLen = 1; c.BackingFile[0] = 'x' }, shared.CreateErrInvalidOption},
		{"vhdx log size 0", vhdx, func(c *shared.CreateConfig) { c.VhdxLogSize = 0 }, shared.CreateErrInvalidOption},
		{"vhdx as it is", vhdx, func(*shared.CreateConfig) {}, shared.CreateErrOK},
		{"vpc subformat", vpc, func(c *shared.CreateConfig) { c.VhdSubformat = 2 }, shared.CreateErrInvalidOption},
		{"vpc block-size", vpc, func(c *shared.CreateConfig) { c.BlockSize = 1 << 20 }, shared.CreateErrInvalidOption},
		{"vpc block-size-2M", vpc, func(c *shared.CreateConfig) { c.BlockSize = 2 << 20 }, shared.CreateErrOK},
		{"vpc prealloc", vpc, func(c *shared.CreateConfig) { c.Preallocation = shared.PreallocFull }, shared.CreateErrInvalidOption},
		{"vpc backing", vpc, func(c *shared.CreateConfig) { c.BackingFileLen = 1; c.BackingFile[0] = 'x' }, shared.CreateErrInvalidOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.base()
			tc.mod(cfg)
			p := filepath.Join(t.TempDir(), "x")
			if _, code := planToFiles(t, []string{p}, func(s OutputSink) (PlanInfo, uint32, error) {
				return Plan(cfg, mib, scratchDefault, s, nil)
			}); code != tc.want {
				t.Errorf("got %d, want %d", code, tc.want)
			}
		})
	}
}
