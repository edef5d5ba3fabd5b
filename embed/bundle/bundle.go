// Package bundle reads the guest bundle that package pack writes: a newc
// cpio archive of guest binaries with a manifest that records each binary's
// load address, in-memory size and sha256. A bundle whose manifest and
// contents disagree is refused. The reader is our own, a few dozen lines
// over the embedded bytes: it keeps the cpio library and its dependencies
// out of the instar binary, whose start-up time is part of every command.
package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// Read parses and verifies a bundle: every manifest entry must have a member
// of exactly that size and sha256, and every member must be in the manifest.
// The binaries' Data alias archive.
func Read(archive []byte) (*Bundle, error) {
	members, err := readNewc(archive)
	if err != nil {
		return nil, fmt.Errorf("read guest bundle: %w", err)
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
