//go:build mage

package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"instar/buildinfo"
	"instar/tools/prereq"
)

const (
	distDir = "dist"
	// distStage is where the release's binary is built and its file tree
	// laid out, before it is packed.
	distStage = "build/dist"
	distBin   = distStage + "/instar"
	debArch   = "amd64"
)

// distEntry is one file of the release: where it is installed (relative to
// /, and to the top directory in the tarball), and what it is.
type distEntry struct {
	path string
	mode fs.FileMode
	file string   // a copy of this file, or
	run  []string // the standard output of this command (the built binary is distBin)
	gzip bool     // compressed, as Debian installs man pages
}

// distFiles are the release's files; the man pages (one for each command,
// from the command tree) are added to them by manPages.
var distFiles = []distEntry{
	{path: "usr/bin/instar", mode: 0o755, file: distBin},
	{path: "usr/share/doc/instar/copyright", mode: 0o644, file: "LICENSE"},
	{path: "usr/share/doc/instar/README.md", mode: 0o644, file: "README.md"},
	{path: "usr/share/doc/instar/ARCHITECTURE.md", mode: 0o644, file: "ARCHITECTURE.md"},
	{path: "usr/share/doc/instar/create.md", mode: 0o644, file: "docs/create.md"},
	{path: "usr/share/doc/instar/formats-matrix.md", mode: 0o644, file: "docs/formats-matrix.md"},
	{path: "usr/share/doc/instar/info.md", mode: 0o644, file: "docs/info.md"},
	{path: "usr/share/bash-completion/completions/instar", mode: 0o644, run: []string{distBin, "completion", "bash"}},
	{path: "usr/share/zsh/vendor-completions/_instar", mode: 0o644, run: []string{distBin, "completion", "zsh"}},
	{path: "usr/share/fish/vendor_completions.d/instar.fish", mode: 0o644, run: []string{distBin, "completion", "fish"}},
}

// manPages lists the pages `mage man` wrote, as release files.
func manPages() ([]distEntry, error) {
	pages, err := filepath.Glob(filepath.Join(manDir, "*.1"))
	if err != nil || len(pages) == 0 {
		return nil, fmt.Errorf("no man pages in %s (%v)", manDir, err)
	}
	var es []distEntry
	for _, p := range pages {
		es = append(es, distEntry{path: "usr/share/man/man1/" + filepath.Base(p) + ".gz", mode: 0o644, file: p, gzip: true})
	}
	return es, nil
}

// Dist builds the release into dist/: instar-<version>-linux-amd64.tar.gz,
// instar_<version>_amd64.deb and their SHA256SUMS. It is reproducible: the
// binary is built with -trimpath, stamped with the version (and, by the Go
// toolchain, the revision), and every time in the archives is
// SOURCE_DATE_EPOCH (by default the last commit's time), so two builds of
// one tree give identical bytes.
func Dist(ctx context.Context) error {
	mg.Deps(mg.F(ensure, "dist"), Guest)
	epoch, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	version := buildinfo.Release
	env := map[string]string{"CGO_ENABLED": "0", "SOURCE_DATE_EPOCH": strconv.FormatInt(epoch.Unix(), 10)}
	ldflags := "-s -w -buildid= -X instar/buildinfo.version=" + version
	if err := sh.RunWithV(env, "go", "build", "-trimpath", "-buildvcs=auto", "-ldflags="+ldflags, "-o", distBin, instarPkg); err != nil {
		return err
	}
	root := filepath.Join(distStage, "root")
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	// The pages are dated by SOURCE_DATE_EPOCH, like everything else.
	if err := sh.RunWith(env, "go", "run", "./tools/mangen", manDir); err != nil {
		return err
	}
	pages, err := manPages()
	if err != nil {
		return err
	}
	if err := layOut(ctx, root, append(distFiles[:len(distFiles):len(distFiles)], pages...)); err != nil {
		return err
	}
	if err := os.MkdirAll(distDir, 0o755); err != nil {
		return err
	}
	tarball := fmt.Sprintf("instar-%s-linux-%s.tar.gz", version, debArch)
	if err := writeTarball(filepath.Join(distDir, tarball), root, fmt.Sprintf("instar-%s", version), epoch); err != nil {
		return err
	}
	deb := fmt.Sprintf("instar_%s_%s.deb", version, debArch)
	if err := writeDeb(filepath.Join(distDir, deb), root, version, env); err != nil {
		return err
	}
	return writeSums(distDir, tarball, deb)
}

// sourceDateEpoch is $SOURCE_DATE_EPOCH, or the time of the last commit.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		out, err := sh.Output("git", "log", "-1", "--format=%ct")
		if err != nil {
			return time.Time{}, fmt.Errorf("no SOURCE_DATE_EPOCH, and no commit time from git: %w", err)
		}
		s = strings.TrimSpace(out)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a count of seconds", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// layOut writes files under root.
func layOut(ctx context.Context, root string, files []distEntry) error {
	for _, e := range files {
		var data []byte
		var err error
		switch {
		case e.file != "":
			data, err = os.ReadFile(e.file)
		default:
			var out bytes.Buffer
			cmd := exec.CommandContext(ctx, e.run[0], e.run[1:]...)
			cmd.Stdout, cmd.Stderr = &out, os.Stderr
			err = cmd.Run()
			data = out.Bytes()
		}
		if err != nil {
			return fmt.Errorf("dist file %s: %w", e.path, err)
		}
		if e.gzip {
			if data, err = gzipped(data); err != nil {
				return err
			}
		}
		dst := filepath.Join(root, filepath.FromSlash(e.path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, e.mode); err != nil {
			return err
		}
		// WriteFile's mode is subject to the umask.
		if err := os.Chmod(dst, e.mode); err != nil {
			return err
		}
	}
	return nil
}

// gzipped compresses data with no name and no time in the header.
func gzipped(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeTarball packs the tree under root into a gzipped tar at dst, under
// the directory top: names sorted, owner root, every time mtime.
func writeTarball(dst, root, top string, mtime time.Time) error {
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	for _, name := range names {
		p := filepath.Join(root, filepath.FromSlash(name))
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{
			Name:    path.Join(top, name),
			Mode:    int64(fi.Mode().Perm()),
			ModTime: mtime,
			Uname:   "root",
			Gname:   "root",
			Format:  tar.FormatUSTAR,
		}
		switch {
		case fi.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		case fi.Mode().IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
		default:
			return fmt.Errorf("dist: %s is neither a file nor a directory", p)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar %s: %w", name, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if _, err := tw.Write(data); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

// debControl is the package's DEBIAN/control; Installed-Size is in KiB.
const debControl = `Package: instar
Version: %s
Architecture: %s
Maintainer: the instar project
Installed-Size: %d
Section: utils
Priority: optional
Recommends: bash-completion
Description: qemu-img compatible disk image tool with a sandboxed parser
 instar creates disk images as qemu-img does. Every piece of image-format
 logic runs inside a tiny bare-metal guest under a VMM built into the
 static instar binary, so untrusted image bytes are parsed only in the
 guest.
`

// writeDeb builds the Debian package at dst from the tree under root with
// dpkg-deb, which takes its times from SOURCE_DATE_EPOCH (in env) and
// sorts its entries; the files belong to root.
func writeDeb(dst, root, version string, env map[string]string) error {
	var size int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		size += (fi.Size() + 1023) / 1024
		return nil
	})
	if err != nil {
		return err
	}
	control := filepath.Join(root, "DEBIAN", "control")
	if err := os.MkdirAll(filepath.Dir(control), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(control, []byte(fmt.Sprintf(debControl, version, debArch, size)), 0o644); err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(control))
	// Directories made under a umask other than 022 would differ.
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o755)
	})
	if err != nil {
		return err
	}
	return sh.RunWith(env, "dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, dst)
}

// writeSums writes SHA256SUMS for the named files in dir, as sha256sum
// prints them.
func writeSums(dir string, names ...string) error {
	var b strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), n)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}

// Debcheck is CI's test of the package: it builds it (dist), installs it
// with dpkg -i, runs `instar doctor` and one create from the installed
// binary, checks the image with qemu-img and each man page with man, and
// removes the package again.
func Debcheck(ctx context.Context) error {
	mg.Deps(mg.F(ensure, "debcheck"), Dist)
	if os.Geteuid() != 0 {
		return fmt.Errorf("debcheck installs the package with dpkg -i: run it as root")
	}
	deb := filepath.Join(distDir, fmt.Sprintf("instar_%s_%s.deb", buildinfo.Release, debArch))
	if err := sh.RunV("dpkg", "-i", deb); err != nil {
		return err
	}
	defer sh.RunV("dpkg", "-r", "instar")
	const installed = "/usr/bin/instar"
	if err := sh.RunV("cmp", installed, distBin); err != nil {
		return fmt.Errorf("the installed %s is not the one built: %w", installed, err)
	}
	if err := sh.RunV(installed, "version"); err != nil {
		return err
	}
	if err := sh.RunV(installed, "doctor"); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "instar-debcheck")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	img := filepath.Join(tmp, "disk.qcow2")
	if err := sh.RunV(installed, "create", "-f", "qcow2", img, "1G"); err != nil {
		return err
	}
	if err := sh.RunV("qemu-img", "check", img); err != nil {
		return err
	}
	info, err := sh.Output("qemu-img", "info", "--output=json", img)
	if err != nil {
		return err
	}
	for _, want := range []string{`"format": "qcow2"`, `"virtual-size": 1073741824`} {
		if !strings.Contains(info, want) {
			return fmt.Errorf("qemu-img info of the installed instar's image lacks %s:\n%s", want, info)
		}
	}
	pages, err := manPages()
	if err != nil {
		return err
	}
	for _, e := range append(distFiles[:len(distFiles):len(distFiles)], pages...) {
		if err := checkInstalled(ctx, e.path); err != nil {
			return err
		}
	}
	fmt.Println("debcheck: the installed package runs doctor and create")
	return nil
}

// checkInstalled checks that an installed man page is found by man, and
// that an installed bash completion script loads and completes instar.
func checkInstalled(ctx context.Context, installPath string) error {
	if page, ok := strings.CutPrefix(installPath, "usr/share/man/"); ok {
		page = strings.TrimSuffix(path.Base(page), ".gz")
		name := strings.TrimSuffix(page, path.Ext(page))
		if err := prereq.Ensure(ctx, prereq.Need{Tools: []prereq.Tool{prereq.Man}}, os.Stdout); err != nil {
			return err
		}
		if err := sh.RunV("man", "-w", name); err != nil {
			return fmt.Errorf("man finds no installed page %s: %w", name, err)
		}
	}
	if name, ok := strings.CutPrefix(installPath, "usr/share/bash-completion/completions/"); ok {
		script := "source /usr/share/bash-completion/bash_completion && source /" + installPath + " && complete -p " + name
		if err := sh.RunV("bash", "-c", script); err != nil {
			return fmt.Errorf("the installed bash completion for %s does not load: %w", name, err)
		}
	}
	return nil
}
