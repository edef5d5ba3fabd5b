package embed

import (
	"errors"
	"os"
	"testing"
	"testing/fstest"

	"instar/shared"
)

func TestEmbeddedBundleHasTheGuest(t *testing.T) {
	b, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for name, addr := range map[string]uint64{"core": shared.CoreLoadAddr, "selftest": shared.OperationLoadAddr} {
		bin, err := b.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if bin.LoadAddr != addr || len(bin.Data) == 0 {
			t.Errorf("%s: load %#x, %d bytes; want load %#x", name, bin.LoadAddr, len(bin.Data), addr)
		}
	}
}

func TestLoad(t *testing.T) {
	archive, err := os.ReadFile(bundleFile)
	if err != nil {
		t.Fatalf("%v (run `go run mage.go guest` first)", err)
	}
	for _, tc := range []struct {
		name    string
		fsys    fstest.MapFS
		wantErr error // nil: the bundle must load
		anyErr  bool  // some other error
	}{
		{"bundle", fstest.MapFS{bundleFile: {Data: archive}}, nil, false},
		{"no bundle, as in a fresh clone", fstest.MapFS{"bundled/README.md": {Data: []byte("x")}}, ErrNoGuest, false},
		{"damaged bundle", fstest.MapFS{bundleFile: {Data: archive[:len(archive)/2]}}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := load(tc.fsys)
			switch {
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			case tc.anyErr && err == nil:
				t.Fatal("damaged bundle loaded")
			case tc.wantErr == nil && !tc.anyErr && (err != nil || len(b.Entries) == 0):
				t.Fatalf("got %v, %v", b, err)
			}
		})
	}
}
