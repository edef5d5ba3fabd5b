// Package bundle writes and reads the guest bundle: a newc cpio archive of
// guest binaries with a manifest that records each binary's load address,
// in-memory size and sha256. A bundle whose manifest and contents disagree is
// refused.
package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/u-root/u-root/pkg/cpio"
)

// ManifestName is the archive member that holds the manifest.
const ManifestName = "manifest.json"

// Entry describes one binary of the bundle.
type Entry struct {
	Name     string `json:"name"`
	LoadAddr uint64 `json:"load_addr"`
	MemSize  uint64 `json:"mem_size"`
	Size     uint64 `json:"size"`
	SHA256   string `json:"sha256"`
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

// Write packs binaries into a cpio archive with a manifest. The archive is a
// pure function of its input, so builds are reproducible.
func Write(w io.Writer, bins []Binary) error {
	sorted := append([]Binary(nil), bins...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	manifest := make([]Entry, 0, len(sorted))
	for _, b := range sorted {
		sum := sha256.Sum256(b.Data)
		e := b.Entry
		e.Size = uint64(len(b.Data))
		e.SHA256 = hex.EncodeToString(sum[:])
		manifest = append(manifest, e)
	}
	mj, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	cw := cpio.Newc.Writer(w)
	recs := []cpio.Record{cpio.StaticFile(ManifestName, string(mj), 0o444)}
	for _, b := range sorted {
		recs = append(recs, cpio.StaticFile(b.Name, string(b.Data), 0o444))
	}
	for _, r := range recs {
		if err := cw.WriteRecord(r); err != nil {
			return fmt.Errorf("write %s to bundle: %w", r.Name, err)
		}
	}
	if err := cpio.WriteTrailer(cw); err != nil {
		return fmt.Errorf("write bundle trailer: %w", err)
	}
	return nil
}

// Read parses and verifies a bundle: every manifest entry must have a member
// of exactly that size and sha256, and every member must be in the manifest.
func Read(archive []byte) (*Bundle, error) {
	rr := cpio.Newc.Reader(bytes.NewReader(archive))
	members := map[string][]byte{}
	for {
		rec, err := rr.ReadRecord()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read guest bundle: %w", err)
		}
		if rec.Name == "TRAILER!!!" {
			break
		}
		data, err := io.ReadAll(io.NewSectionReader(rec.ReaderAt, 0, int64(rec.FileSize)))
		if err != nil {
			return nil, fmt.Errorf("read guest bundle member %s: %w", rec.Name, err)
		}
		if _, dup := members[rec.Name]; dup {
			return nil, fmt.Errorf("guest bundle has %s twice", rec.Name)
		}
		members[rec.Name] = data
	}
	mj, ok := members[ManifestName]
	if !ok {
		return nil, fmt.Errorf("guest bundle has no %s", ManifestName)
	}
	delete(members, ManifestName)
	var manifest []Entry
	if err := json.Unmarshal(mj, &manifest); err != nil {
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
