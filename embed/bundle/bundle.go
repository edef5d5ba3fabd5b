// Package bundle reads the guest bundle that package pack writes: a newc
// cpio archive of guest binaries with a manifest that records each binary's
// load address, in-memory size and sha256, read with u-root's cpio package.
// A bundle whose manifest and contents disagree is refused.
package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
)

// ManifestName is the archive member that holds the manifest.
const ManifestName = "manifest"

// manifestHeader is the manifest's first line: what its columns are.
const manifestHeader = "# name load_addr mem_size size sha256"

// Entry describes one binary of the bundle.
type Entry struct {
	Name     string
	LoadAddr uint64
	MemSize  uint64
	Size     uint64
	SHA256   string
}

// FormatManifest writes entries as the manifest: the header line, then one
// line per entry with its fields in the header's order (decimal numbers,
// the sha256 in hex). A plain format: every command that runs a guest
// parses it at start-up.
func FormatManifest(entries []Entry) []byte {
	b := []byte(manifestHeader + "\n")
	for _, e := range entries {
		b = fmt.Appendf(b, "%s %d %d %d %s\n", e.Name, e.LoadAddr, e.MemSize, e.Size, e.SHA256)
	}
	return b
}

// ParseManifest reads what FormatManifest writes.
func ParseManifest(m []byte) ([]Entry, error) {
	lines := strings.Split(string(m), "\n")
	if len(lines) < 2 || lines[0] != manifestHeader || lines[len(lines)-1] != "" {
		return nil, errors.New("not a manifest (header or final newline missing)")
	}
	var entries []Entry
	for i, line := range lines[1 : len(lines)-1] {
		f := strings.Split(line, " ")
		if len(f) != 5 {
			return nil, fmt.Errorf("line %d: %d fields, want 5", i+2, len(f))
		}
		e := Entry{Name: f[0], SHA256: f[4]}
		for j, p := range []*uint64{&e.LoadAddr, &e.MemSize, &e.Size} {
			v, err := strconv.ParseUint(f[j+1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: field %d is not a decimal number", i+2, j+2)
			}
			*p = v
		}
		if e.Name == "" || len(e.SHA256) != 2*sha256.Size {
			return nil, fmt.Errorf("line %d: empty name or malformed sha256", i+2)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// Binary is a verified binary from the bundle.
type Binary struct {
	Entry
	Data []byte
}

// Bundle is a verified set of guest binaries.
type Bundle struct {
	Entries  []Entry
	binaries map[string]*Binary
}

// Get returns the named binary.
func (b *Bundle) Get(name string) (*Binary, error) {
	bin, ok := b.binaries[name]
	if !ok {
		return nil, fmt.Errorf("guest binary %q is not in the bundle", name)
	}
	return bin, nil
}

// endReader notes a read that reached the end of the archive: the cpio
// reader ends at the trailer record without one, so an archive that ends
// with such a read has no trailer.
type endReader struct {
	r      *bytes.Reader
	hitEnd bool
}

func (e *endReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := e.r.ReadAt(p, off)
	if err == io.EOF {
		e.hitEnd = true
	}
	return n, err
}

// readMembers returns the regular-file members of a newc archive by name.
// Anything but regular files, a repeated name, and an archive without its
// trailer are refused.
func readMembers(archive []byte) (map[string][]byte, error) {
	src := &endReader{r: bytes.NewReader(archive)}
	rr := cpio.Newc.Reader(src)
	members := map[string][]byte{}
	for {
		rec, err := rr.ReadRecord()
		if err == io.EOF && !src.hitEnd {
			return members, nil
		}
		if err == io.EOF {
			return nil, errors.New("the archive ends without its trailer")
		}
		if err != nil {
			return nil, err
		}
		if rec.Mode&cpio.S_IFMT != cpio.S_IFREG {
			return nil, fmt.Errorf("member %s: not a regular file (mode %#o)", rec.Name, rec.Mode)
		}
		if _, dup := members[rec.Name]; dup {
			return nil, fmt.Errorf("%s is in the archive twice", rec.Name)
		}
		// The member's data is a section of the archive: alias it, as
		// nothing writes to either.
		sr, ok := rec.ReaderAt.(*io.SectionReader)
		if !ok {
			return nil, fmt.Errorf("member %s: the cpio reader gave no section of the archive", rec.Name)
		}
		_, off, n := sr.Outer()
		if off < 0 || n != int64(rec.FileSize) || uint64(n) > uint64(len(archive)) || off > int64(len(archive))-n {
			return nil, fmt.Errorf("member %s: data runs past the end of the archive", rec.Name)
		}
		members[rec.Name] = archive[off : off+n : off+n]
	}
}

// Read parses and verifies a bundle: every manifest entry must have a member
// of exactly that size and sha256, and every member must be in the manifest.
// The binaries' Data alias archive.
func Read(archive []byte) (*Bundle, error) {
	members, err := readMembers(archive)
	if err != nil {
		return nil, fmt.Errorf("read guest bundle: %w", err)
	}
	mj, ok := members[ManifestName]
	if !ok {
		return nil, fmt.Errorf("guest bundle has no %s", ManifestName)
	}
	delete(members, ManifestName)
	manifest, err := ParseManifest(mj)
	if err != nil {
		return nil, fmt.Errorf("guest bundle manifest: %w", err)
	}
	b := &Bundle{Entries: manifest, binaries: map[string]*Binary{}}
	for _, e := range manifest {
		data, ok := members[e.Name]
		if !ok {
			return nil, fmt.Errorf("guest bundle manifest lists %s, which the archive lacks", e.Name)
		}
		delete(members, e.Name)
		sum := sha256.Sum256(data)
		if uint64(len(data)) != e.Size || hex.EncodeToString(sum[:]) != e.SHA256 {
			return nil, fmt.Errorf("guest bundle member %s does not match its manifest entry (size %d, want %d)",
				e.Name, len(data), e.Size)
		}
		if e.MemSize < e.Size {
			return nil, fmt.Errorf("guest bundle member %s: in-memory size %d is below its file size %d",
				e.Name, e.MemSize, e.Size)
		}
		b.binaries[e.Name] = &Binary{Entry: e, Data: data}
	}
	for name := range members {
		return nil, fmt.Errorf("guest bundle member %s is not in the manifest", name)
	}
	return b, nil
}
