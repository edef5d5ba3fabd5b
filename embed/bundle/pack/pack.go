// Package pack writes the guest bundle that package bundle reads: the guest
// binaries and their manifest in a newc cpio archive, written with u-root's
// cpio package. It is used by the build, never by instar itself.
package pack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"

	"github.com/u-root/u-root/pkg/cpio"

	"instar/embed/bundle"
)

// Write packs binaries into a cpio archive with a manifest. The archive is a
// pure function of its input, so builds are reproducible.
func Write(w io.Writer, bins []bundle.Binary) error {
	sorted := append([]bundle.Binary(nil), bins...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	manifest := make([]bundle.Entry, 0, len(sorted))
	for _, b := range sorted {
		sum := sha256.Sum256(b.Data)
		e := b.Entry
		e.Size = uint64(len(b.Data))
		e.SHA256 = hex.EncodeToString(sum[:])
		manifest = append(manifest, e)
	}
	mj := bundle.FormatManifest(manifest)
	cw := cpio.Newc.Writer(w)
	recs := []cpio.Record{cpio.StaticFile(bundle.ManifestName, string(mj), 0o444)}
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
