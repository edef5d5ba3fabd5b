package imgcreate

import (
	"testing"

	"instar/imgopt"
	"instar/shared"
)

// TestConfigFor: the config builder fills every option's field or flag
// from the format table, with the table's default when unset, and clamps
// a number too wide for its field to the field's largest value.
func TestConfigFor(t *testing.T) {
	for _, c := range []struct {
		format, opts string
		check        func(*shared.CreateConfig) bool
	}{
		{"qcow2", "", func(c *shared.CreateConfig) bool {
			return c.Qcow2ClusterSize == 65536 && c.Qcow2RefcountBits == 16 && c.Flags == shared.FlagCompatV3
		}},
		{"qcow2", "compat=0.10,lazy_refcounts=on,compression_type=zstd,preallocation=full", func(c *shared.CreateConfig) bool {
			return c.Flags == shared.FlagLazyRefcounts|shared.FlagCompressionZstd && c.Preallocation == shared.PreallocFull
		}},
		{"qcow2", "cluster_size=8G,refcount_bits=300", func(c *shared.CreateConfig) bool {
			return c.Qcow2ClusterSize == 1<<32-1 && c.Qcow2RefcountBits == 255
		}},
		{"vmdk", "", func(c *shared.CreateConfig) bool {
			return c.VmdkToolsversion == 2147483647 && c.VmdkHwversion == 0 && c.VmdkSubformat == shared.VmdkMonolithicSparse
		}},
		{"vmdk", "subformat=twoGbMaxExtentFlat,adapter_type=legacyESX,hwversion=6", func(c *shared.CreateConfig) bool {
			return c.VmdkSubformat == shared.VmdkTwoGbMaxExtentFlat && c.VmdkAdapterType == shared.VmdkAdapterLegacyESX && c.VmdkHwversion == 6
		}},
		{"vhdx", "", func(c *shared.CreateConfig) bool {
			return c.VhdxLogSize == 1<<20 && c.BlockSize == 0 && c.Flags == shared.FlagVhdxBlockStateZero
		}},
		{"vpc", "subformat=fixed,force_size=on", func(c *shared.CreateConfig) bool {
			return c.VhdSubformat == shared.VhdFixed && c.Flags == shared.FlagForceSize
		}},
	} {
		f, err := imgopt.Lookup(c.format)
		if err != nil {
			t.Fatal(err)
		}
		v := imgopt.New(f)
		if err := v.Parse(c.opts + ",size=1M"); err != nil {
			t.Fatal(err)
		}
		cfg, err := configFor(Request{Filename: "x", Options: v})
		if err != nil {
			t.Errorf("%s -o %s: %v", c.format, c.opts, err)
			continue
		}
		if cfg.TargetFormat != f.Def().Number || cfg.VirtualSize != 1<<20 || !c.check(cfg) {
			t.Errorf("%s -o %s: config %+v", c.format, c.opts, *cfg)
		}
	}
}
