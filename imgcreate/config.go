package imgcreate

import (
	"fmt"
	"path/filepath"
	"reflect"

	"instar/imgopt"
	"instar/shared"
	"instar/shared/formats"
)

// configFor translates the options into the guest's CreateConfig, driven
// by the format table: every option with a config field or flag gets its
// value, or its default when unset. Only words and syntax are checked
// here; whether a value or combination is valid for the format is the
// guest's to decide.
func configFor(r Request) (*shared.CreateConfig, error) {
	opts := r.Options
	format := opts.Def()
	cfg := &shared.CreateConfig{
		Magic:        shared.CreateConfigMagic,
		TargetFormat: format.Number,
		SectorSize:   512,
		VirtualSize:  opts.Uint("size", 0),
	}
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
		if r.Unsafe {
			cfg.Flags |= shared.FlagBackingUnsafe
		}
	}
	if name, ok := opts.Get("data_file"); ok {
		// The image records the data file's name as qemu's file driver
		// holds it: "file:" stripped; other protocols are refused.
		path, device, err := localName(name)
		if err != nil {
			return nil, err
		}
		if device {
			return nil, fmt.Errorf("data file '%s' is a host_device; instar writes a data file only to a regular file", name)
		}
		if path == "" {
			return nil, fmt.Errorf("Could not create '': No such file or directory")
		}
		if len(path) > shared.CreateConfigMaxDataFile {
			return nil, fmt.Errorf("data file name is %d bytes; at most %d are allowed", len(path), shared.CreateConfigMaxDataFile)
		}
		cfg.DataFileLen = uint32(copy(cfg.DataFile[:], path))
	}
	if bf, ok := opts.Get("backing_fmt"); ok {
		f, known := formats.Named(bf)
		if !known {
			return nil, fmt.Errorf("unknown backing file format '%s'", bf)
		}
		cfg.BackingFormat = f.Number
	}
	var err error
	cfg.Entropy, cfg.Timestamp, err = entropyAndTime(r.Filename)
	if err != nil {
		return nil, err
	}
	fields := reflect.ValueOf(cfg).Elem()
	for i := range format.Options {
		o := &format.Options[i]
		if o.Field == "" && o.Flag == 0 {
			continue
		}
		v, err := optionValue(opts, o)
		if err != nil {
			return nil, err
		}
		if o.Flag != 0 {
			if v != 0 {
				cfg.Flags |= o.Flag
			}
			continue
		}
		f := fields.FieldByName(o.Field)
		f.SetUint(min(v, 1<<(8*f.Type().Size())-1))
	}
	return cfg, nil
}

// optionValue is the number the guest gets for option o: for its value,
// or its default when unset.
func optionValue(opts *imgopt.Values, o *formats.Option) (uint64, error) {
	s, ok := opts.Get(o.Name)
	if !ok {
		s = o.Default
	}
	return o.Value(s)
}
