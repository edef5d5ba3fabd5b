package imgcreate

import (
	"errors"
	"fmt"
	"path/filepath"

	"instar/imgopt"
	"instar/shared"
)

var formatNumbers = map[string]uint32{
	"raw": shared.FormatRaw, "qcow2": shared.FormatQcow2, "vmdk": shared.FormatVmdk,
	"vpc": shared.FormatVpc, "vhdx": shared.FormatVhdx,
}

// choice maps an option's allowed words to their config values.
func choice(opts *imgopt.Values, name string, def uint8, words map[string]uint8) (uint8, error) {
	s, ok := opts.Get(name)
	if !ok {
		return def, nil
	}
	v, ok := words[s]
	if !ok {
		return 0, fmt.Errorf("invalid value '%s' for option '%s'", s, name)
	}
	return v, nil
}

func u32(opts *imgopt.Values, name string, def uint64) (uint32, error) {
	v := opts.Uint(name, def)
	if v > 1<<32-1 {
		return 0, fmt.Errorf("%s=%d is too large", name, v)
	}
	return uint32(v), nil
}

func flag(cfg *shared.CreateConfig, on bool, bit uint32) {
	if on {
		cfg.Flags |= bit
	}
}

// configFor translates the options into the guest's CreateConfig. Only
// words and syntax are checked here; whether a combination is valid for
// the format is the guest's to decide.
func configFor(r Request) (*shared.CreateConfig, error) {
	opts := r.Options
	cfg := &shared.CreateConfig{
		Magic:        shared.CreateConfigMagic,
		TargetFormat: formatNumbers[r.Format],
		SectorSize:   512,
		VirtualSize:  opts.Uint("size", 0),
	}
	var err error
	base := filepath.Base(r.Filename)
	if len(base) > shared.CreateConfigMaxImageName {
		return nil, fmt.Errorf("image file name is %d bytes; at most %d are allowed", len(base), shared.CreateConfigMaxImageName)
	}
	cfg.ImageNameLen = uint32(copy(cfg.ImageName[:], base))
	if backing, ok := opts.Get("backing_file"); ok {
		if len(backing) > shared.CreateConfigMaxBackingFile {
			return nil, fmt.Errorf("backing file name is %d bytes; at most %d are allowed", len(backing), shared.CreateConfigMaxBackingFile)
		}
		if backing == "" {
			return nil, fmt.Errorf("backing file name is empty")
		}
		cfg.BackingFileLen = uint32(copy(cfg.BackingFile[:], backing))
		flag(cfg, r.Unsafe, shared.FlagBackingUnsafe)
	}
	if bf, ok := opts.Get("backing_fmt"); ok {
		n, known := formatNumbers[bf]
		if !known {
			return nil, fmt.Errorf("unknown backing file format '%s'", bf)
		}
		cfg.BackingFormat = n
	}
	cfg.Entropy, cfg.Timestamp, err = entropyAndTime(r.Filename)
	if err != nil {
		return nil, err
	}
	switch r.Format {
	case "qcow2":
		compat, err := choice(opts, "compat", 1, map[string]uint8{"0.10": 0, "v2": 0, "1.1": 1, "v3": 1})
		if err != nil {
			return nil, err
		}
		flag(cfg, compat == 1, shared.FlagCompatV3)
		if cfg.Qcow2ClusterSize, err = u32(opts, "cluster_size", 65536); err != nil {
			return nil, err
		}
		bits := opts.Uint("refcount_bits", 16)
		if bits > 255 {
			return nil, fmt.Errorf("refcount_bits=%d is too large", bits)
		}
		cfg.Qcow2RefcountBits = uint8(bits)
		flag(cfg, opts.Bool("extended_l2", false), shared.FlagExtendedL2)
		flag(cfg, opts.Bool("lazy_refcounts", false), shared.FlagLazyRefcounts)
		zstd, err := choice(opts, "compression_type", 0, map[string]uint8{"zlib": 0, "zstd": 1})
		if err != nil {
			return nil, err
		}
		flag(cfg, zstd == 1, shared.FlagCompressionZstd)
		if cfg.Preallocation, err = choice(opts, "preallocation", shared.PreallocOff, map[string]uint8{
			"off": shared.PreallocOff, "metadata": shared.PreallocMetadata,
			"falloc": shared.PreallocFalloc, "full": shared.PreallocFull}); err != nil {
			return nil, err
		}
	case "vmdk":
		if cfg.VmdkSubformat, err = choice(opts, "subformat", shared.VmdkMonolithicSparse, map[string]uint8{
			"monolithicSparse": shared.VmdkMonolithicSparse, "streamOptimized": shared.VmdkStreamOptimized,
			"monolithicFlat": shared.VmdkMonolithicFlat, "twoGbMaxExtentSparse": shared.VmdkTwoGbMaxExtentSparse,
			"twoGbMaxExtentFlat": shared.VmdkTwoGbMaxExtentFlat}); err != nil {
			return nil, err
		}
		if cfg.VmdkAdapterType, err = choice(opts, "adapter_type", shared.VmdkAdapterIDE, map[string]uint8{
			"ide": shared.VmdkAdapterIDE, "lsilogic": shared.VmdkAdapterLsiLogic,
			"buslogic": shared.VmdkAdapterBusLogic, "legacyESX": shared.VmdkAdapterLegacyESX}); err != nil {
			return nil, err
		}
		if hw, ok := opts.Get("hwversion"); ok && hw != "undefined" {
			var n uint32
			if _, err := fmt.Sscanf(hw, "%d", &n); err != nil || fmt.Sprint(n) != hw {
				return nil, fmt.Errorf("invalid hwversion '%s'", hw)
			}
			cfg.VmdkHwversion = n
		}
		cfg.VmdkToolsversion = 2147483647
		if tv, ok := opts.Get("toolsversion"); ok {
			var n uint32
			if _, err := fmt.Sscanf(tv, "%d", &n); err != nil || fmt.Sprint(n) != tv {
				return nil, fmt.Errorf("invalid toolsversion '%s'", tv)
			}
			cfg.VmdkToolsversion = n
		}
		flag(cfg, opts.Bool("compat6", false), shared.FlagVmdkCompat6)
		flag(cfg, opts.Bool("zeroed_grain", false), shared.FlagVmdkZeroedGrain)
	case "vpc":
		if cfg.VhdSubformat, err = choice(opts, "subformat", shared.VhdDynamic, map[string]uint8{
			"dynamic": shared.VhdDynamic, "fixed": shared.VhdFixed}); err != nil {
			return nil, err
		}
		flag(cfg, opts.Bool("force_size", false), shared.FlagForceSize)
	case "vhdx":
		if cfg.VhdSubformat, err = choice(opts, "subformat", shared.VhdDynamic, map[string]uint8{
			"dynamic": shared.VhdDynamic, "fixed": shared.VhdFixed}); err != nil {
			return nil, err
		}
		// qemu caps the block size at 256 MiB, so any larger value,
		// even one past 32 bits, acts as the cap; the guest applies it.
		cfg.BlockSize = uint32(min(opts.Uint("block_size", 0), 1<<32-1))
		// The config has 32 bits for it; qemu-img's limit is the same.
		if opts.Uint("log_size", 1<<20) >= 4<<30 {
			return nil, errors.New("Log size must be smaller than 4 GB")
		}
		if cfg.VhdxLogSize, err = u32(opts, "log_size", 1<<20); err != nil {
			return nil, err
		}
		if cfg.VhdxLogSize == 0 {
			// 0 in the config means the default, so refuse it here.
			return nil, fmt.Errorf("log size must be a multiple of 1 MB")
		}
		flag(cfg, opts.Bool("block_state_zero", true), shared.FlagVhdxBlockStateZero)
	}
	return cfg, nil
}
