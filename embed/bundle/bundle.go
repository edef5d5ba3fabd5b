// Package bundle reads the guest bundle that package pack writes: a newc
// cpio archive of guest binaries with a manifest that records each binary's
// load address, in-memory size and sha256, read with u-root's cpio package.
// A bundle whose manifest and contents disagree is refused.
package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

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

// Bundle is a guest bundle whose archive and manifest agree: every member
// is listed, every listed member is there with its size. A member's
// contents are read and checked against its sha256 when it is first
// asked for, so a command pays for the binaries it runs only.
type Bundle struct {
	Entries []Entry
	members map[string]*member
	mu      sync.Mutex
}

type member struct {
	entry Entry
	data  *io.SectionReader
	bin   *Binary // once read and verified
}

// Get returns the named binary, read and verified on first use.
func (b *Bundle) Get(name string) (*Binary, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.members[name]
	if !ok {
		return nil, fmt.Errorf("guest binary %q is not in the bundle", name)
	}
	if m.bin != nil {
		return m.bin, nil
	}
	data := make([]byte, m.entry.Size)
	if _, err := m.data.ReadAt(data, 0); err != nil && !(err == io.EOF && len(data) == 0) {
		return nil, fmt.Errorf("read guest bundle member %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != m.entry.SHA256 {
		return nil, fmt.Errorf("guest bundle member %s does not match its manifest entry (sha256)", name)
	}
	m.bin = &Binary{Entry: m.entry, Data: data}
	return m.bin, nil
}

// endReader notes a read that reached the end of the archive: the cpio
// reader ends at the trailer record without one, so an archive that ends
// with such a read has no trailer.
type endReader struct {
	r      io.ReaderAt
	hitEnd bool
}

func (e *endReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := e.r.ReadAt(p, off)
	if err == io.EOF {
		e.hitEnd = true
	}
	return n, err
}

// readMembers returns the regular-file members of a newc archive of size
// bytes by name, each as a section of the archive. Anything but regular
// files, a repeated name, and an archive without its trailer are refused.
func readMembers(archive io.ReaderAt, size int64) (map[string]*io.SectionReader, error) {
	src := &endReader{r: archive}
	rr := cpio.Newc.Reader(src)
	members := map[string]*io.SectionReader{}
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
		sr, ok := rec.ReaderAt.(*io.SectionReader)
		if !ok {
			return nil, fmt.Errorf("member %s: the cpio reader gave no section of the archive", rec.Name)
		}
		_, off, n := sr.Outer()
		if off < 0 || n != int64(rec.FileSize) || n > size || off > size-n {
			return nil, fmt.Errorf("member %s: data runs past the end of the archive", rec.Name)
		}
		members[rec.Name] = sr
	}
}

// Read parses a bundle of size bytes: every manifest entry must have a
// member of exactly that size, and every member must be in the manifest.
// Each member's sha256 is checked by Get.
func Read(archive io.ReaderAt, size int64) (*Bundle, error) {
	members, err := readMembers(archive, size)
	if err != nil {
		return nil, fmt.Errorf("read guest bundle: %w", err)
	}
	ms, ok := members[ManifestName]
	if !ok {
		return nil, fmt.Errorf("guest bundle has no %s", ManifestName)
	}
	delete(members, ManifestName)
	mj := make([]byte, ms.Size())
	if _, err := ms.ReadAt(mj, 0); err != nil && !(err == io.EOF && len(mj) == 0) {
		return nil, fmt.Errorf("read guest bundle manifest: %w", err)
	}
	manifest, err := ParseManifest(mj)
	if err != nil {
		return nil, fmt.Errorf("guest bundle manifest: %w", err)
	}
	b := &Bundle{Entries: manifest, members: map[string]*member{}}
	for _, e := range manifest {
		data, ok := members[e.Name]
		if !ok {
			return nil, fmt.Errorf("guest bundle manifest lists %s, which the archive lacks", e.Name)
		}
		delete(members, e.Name)
		if uint64(data.Size()) != e.Size {
			return nil, fmt.Errorf("guest bundle member %s does not match its manifest entry (size %d, want %d)",
				e.Name, data.Size(), e.Size)
		}
		if e.MemSize < e.Size {
			return nil, fmt.Errorf("guest bundle member %s: in-memory size %d is below its file size %d",
				e.Name, e.MemSize, e.Size)
		}
		b.members[e.Name] = &member{entry: e, data: data}
	}
	for name := range members {
		return nil, fmt.Errorf("guest bundle member %s is not in the manifest", name)
	}
	return b, nil
}
