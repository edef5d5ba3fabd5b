package vmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"

	"instar/tools/vmtest/internal/wire"
)

// BuildInitramfs writes to out an uncompressed newc cpio archive to boot
// with k. It holds /init (the static init program of InitPackage, built
// now), /dev/console, the directories /dev /proc /sys /tmp, k's KVM modules
// under /modules, and files, which maps paths in the initramfs to host
// files (their permission bits are kept, so executables stay executable).
// When args is not empty it is the default command, run unless Run is given
// another; storing it here avoids the kernel command line's 2 KiB limit.
func BuildInitramfs(out string, k *Kernel, files map[string]string, args []string) error {
	tmp, err := os.MkdirTemp("", "vmtest-init-")
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	defer os.RemoveAll(tmp)
	initBin := filepath.Join(tmp, "init")
	if err := BuildStatic(context.Background(), InitPackage, initBin); err != nil {
		return err
	}

	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("vmtest: creating initramfs: %w", err)
	}
	a := &archive{w: cpio.NewDedupWriter(cpio.Newc.Writer(f))}
	err = a.fill(initBin, k, files, args)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return fmt.Errorf("vmtest: writing initramfs %s: %w", out, err)
	}
	return nil
}

// archive writes cpio records, each with its own inode number.
type archive struct {
	w   cpio.RecordWriter
	ino uint64
}

// fill writes the whole initramfs and its trailer.
func (a *archive) fill(initBin string, k *Kernel, files map[string]string, args []string) error {
	for _, d := range []string{"dev", "proc", "sys", "tmp", strings.TrimPrefix(wire.ModulesDir, "/")} {
		if err := a.write(cpio.Directory(d, 0o755)); err != nil {
			return err
		}
	}
	// The kernel opens /dev/console for init before init mounts devtmpfs.
	if err := a.write(cpio.CharDev("dev/console", 0o600, 5, 1)); err != nil {
		return err
	}
	if err := a.hostFile("init", initBin); err != nil {
		return err
	}
	for i, m := range k.Modules {
		b, err := moduleBytes(m)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%s/%02d-%s.ko", strings.TrimPrefix(wire.ModulesDir, "/"), i, moduleName(m))
		if err := a.write(cpio.StaticRecord(b, cpio.Info{Name: name, Mode: cpio.S_IFREG | 0o644})); err != nil {
			return err
		}
	}
	if len(args) > 0 {
		j, err := json.Marshal(args)
		if err != nil {
			return err
		}
		if err := a.write(cpio.StaticFile(strings.TrimPrefix(wire.ArgvPath, "/"), string(j), 0o644)); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		clean := strings.TrimPrefix(path.Clean("/"+name), "/")
		if clean == "" {
			return fmt.Errorf("bad initramfs path %q", name)
		}
		if err := a.hostFile(clean, files[name]); err != nil {
			return err
		}
	}
	return cpio.WriteTrailer(a.w)
}

// hostFile writes the host file src as name, keeping its permission bits.
func (a *archive) hostFile(name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	return a.write(cpio.Record{
		ReaderAt: f,
		Info: cpio.Info{
			Name:     name,
			Mode:     cpio.S_IFREG | uint64(st.Mode().Perm()),
			FileSize: uint64(st.Size()),
		},
	})
}

// write writes r, after its missing parent directories, with a fresh inode
// number.
func (a *archive) write(r cpio.Record) error {
	a.ino++
	r.Ino = a.ino
	r.NLink = 1
	if err := cpio.WriteRecordsAndDirs(a.w, []cpio.Record{r}); err != nil {
		return fmt.Errorf("adding %s: %w", r.Name, err)
	}
	return nil
}

// moduleBytes returns the module file's contents, decompressed when it is
// .ko.xz (the init program loads plain modules only).
func moduleBytes(p string) ([]byte, error) {
	if !strings.HasSuffix(p, ".xz") {
		return os.ReadFile(p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out bytes.Buffer
	if err := runFilter(f, &out, "xz", "-dc"); err != nil {
		return nil, fmt.Errorf("decompressing %s: %w", p, err)
	}
	return out.Bytes(), nil
}
