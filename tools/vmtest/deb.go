package vmtest

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// extractDeb unpacks from the .deb at debPath, into dir, the regular files
// for which want returns true, keeping their paths. It streams the package's
// file system tar from dpkg-deb, so nothing else is written to disk. It
// returns the paths of the extracted files relative to dir.
func extractDeb(ctx context.Context, debPath, dir string, want func(name string) bool) ([]string, error) {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", debPath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("dpkg-deb: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting dpkg-deb: %w", err)
	}
	got, terr := extractTar(stdout, dir, want)
	// Drain so dpkg-deb is not killed by a broken pipe after an early error.
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	if terr != nil {
		return nil, fmt.Errorf("extracting %s: %w", debPath, terr)
	}
	if werr != nil {
		return nil, fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w: %s", debPath, werr, tail([]byte(stderr.String()), 2000))
	}
	return got, nil
}

// extractTar writes the regular files of the tar stream r that want selects
// under dir.
func extractTar(r io.Reader, dir string, want func(name string) bool) ([]string, error) {
	var got []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return nil, err
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if hdr.Typeflag != tar.TypeReg || !want(name) {
			continue
		}
		if !filepath.IsLocal(name) {
			return nil, fmt.Errorf("unsafe path %q in archive", hdr.Name)
		}
		if err := writeFile(filepath.Join(dir, name), tr, 0o644); err != nil {
			return nil, err
		}
		got = append(got, name)
	}
}

// writeFile writes r to path atomically, creating parent directories.
func writeFile(path string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
