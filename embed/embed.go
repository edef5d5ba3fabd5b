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

// Guest returns core and the named operation from the embedded bundle:
// what every guest run loads.
func Guest(operation string) (core, op []byte, err error) {
	b, err := Load()
	if err != nil {
		return nil, nil, err
	}
	c, err := b.Get("core")
	if err != nil {
		return nil, nil, err
	}
	o, err := b.Get(operation)
	if err != nil {
		return nil, nil, err
	}
	return c.Data, o.Data, nil
}
