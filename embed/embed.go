// Package embed holds the guest binaries inside the instar executable, as
// the bundle that `mage guest` writes to embed/guest.cpio. Nothing is loaded
// from disk at run time.
package embed

import (
	_ "embed" // for go:embed
	"sync"

	"instar/embed/bundle"
)

//go:embed guest.cpio
var archive []byte

var loadOnce = sync.OnceValues(func() (*bundle.Bundle, error) { return bundle.Read(archive) })

// Load returns the bundle embedded in this executable, verified on first use.
func Load() (*bundle.Bundle, error) { return loadOnce() }
