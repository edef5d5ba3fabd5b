// Package embed holds the guest binaries inside the instar executable, as
// the bundle that `mage guest` writes to embed/bundled/guest.cpio. Nothing is
// loaded from disk at run time.
package embed

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"instar/embed/bundle"
)

// The directory, not the file, is embedded: a clone without the bundle (it
// is build output) still builds, vets and tests, and instar then says at run
// time that it has no guest.
//
//go:embed bundled
var files embed.FS

// bundleFile is the bundle's path in files.
const bundleFile = "bundled/guest.cpio"

// ErrNoGuest is what Load returns when the executable was built without its
// guest bundle.
var ErrNoGuest = errors.New("this instar was built without its guest: build it with `go run mage.go build`")

var loadOnce = sync.OnceValues(func() (*bundle.Bundle, error) { return load(files) })

// load reads the bundle in fsys in place: its index now, each binary
// when it is asked for (so a command copies and hashes only the binaries
// it runs).
func load(fsys fs.FS) (*bundle.Bundle, error) {
	f, err := fsys.Open(bundleFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoGuest
	}
	if err != nil {
		return nil, fmt.Errorf("read embedded guest bundle: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read embedded guest bundle: %w", err)
	}
	r, ok := f.(io.ReaderAt)
	if !ok {
		return nil, errors.New("read embedded guest bundle: the file system gives no random access")
	}
	return bundle.Read(r, st.Size())
}

// Load returns the bundle embedded in this executable, its index read on
// first use and each binary verified on its own first use, or ErrNoGuest.
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
