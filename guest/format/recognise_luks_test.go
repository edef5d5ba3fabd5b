//go:build cgo

package format

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"instar/shared"
)

// TestLuksAgainstQemu: a LUKS1 header made by cryptsetup, with edits, is
// refused by the luks recogniser exactly when qemu-img info refuses to
// open it, with qemu's message; otherwise its virtual size is qemu's
// (qemu-img info needs no key for it).
func TestLuksAgainstQemu(t *testing.T) {
	needQemuImg(t)
	if _, err := exec.LookPath("cryptsetup"); err != nil {
		t.Fatalf("cryptsetup is needed (mage check installs it): %v", err)
	}
	base := luks("luks1")(t, t.TempDir())
	slot := func(i, field int) int { return 208 + 48*i + field }
	set := func(off int, v uint32) func(b []byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return b }
	}
	fill := func(off int) func(b []byte) []byte {
		return func(b []byte) []byte { copy(b[off:off+32], bytes.Repeat([]byte("a"), 32)); return b }
	}
	// names sets the cipher name, mode and hash spec (those not "") and
	// the key size (when not -1).
	names := func(cipher, mode, hash string, key int64) func(b []byte) []byte {
		return func(b []byte) []byte {
			for _, f := range []struct {
				off int
				v   string
			}{{8, cipher}, {40, mode}, {72, hash}} {
				if f.v != "" || f.off == 8 && cipher == "" && mode == "" && hash == "" && key == -1 {
					clear(b[f.off : f.off+32])
					copy(b[f.off:], f.v)
				}
			}
			if key >= 0 {
				binary.BigEndian.PutUint32(b[108:], uint32(key))
			}
			return b
		}
	}
	cases := []struct {
		name string
		edit func(b []byte) []byte
	}{
		{"as made", func(b []byte) []byte { return b }},
		{"odd size", func(b []byte) []byte { return append(b, 1) }},
		{"cipher name unterminated", fill(8)},
		{"cipher mode unterminated", fill(40)},
		{"hash spec unterminated", fill(72)},
		{"payload in the header", set(104, 1)},
		{"payload offset 2^32-1", set(104, 0xffffffff)},
		{"key iterations zero", set(164, 0)},
		{"slot 3 stripes 5", set(slot(3, 44), 5)},
		{"slot 1 stripes 2^32-1", set(slot(1, 44), 0xffffffff)},
		{"slot 2 state", set(slot(2, 0), 1)},
		{"slot 0 iterations zero", set(slot(0, 4), 0)},
		{"slot 1 disabled iterations zero", set(slot(1, 4), 0)},
		{"slot 0 in the header", set(slot(0, 40), 1)},
		{"slot 7 over the payload", set(slot(7, 40), 4000)},
		{"slot 7 wrapping", set(slot(7, 40), 0xffffff00)},
		{"slots 4 and 5 overlap", func(b []byte) []byte {
			copy(b[slot(5, 40):slot(5, 44)], b[slot(4, 40):slot(4, 44)])
			return b
		}},
		{"mode without a dash", names("", "xts", "", -1)},
		{"mode unknown", names("", "foo-plain64", "", -1)},
		{"mode empty", names("", "-plain64", "", -1)},
		{"mode ecb", names("", "ecb-plain", "", 32)},
		{"mode ctr, key 64", names("", "ctr-plain", "", -1)},
		{"IV generator unknown", names("", "xts-foo", "", -1)},
		{"IV generator plain-64", names("", "xts-plain-64", "", -1)},
		{"IV hash unknown", names("", "xts-plain64:foo", "", -1)},
		{"IV hash with a colon", names("", "xts-plain64:sha256:x", "", -1)},
		{"IV hash for plain64", names("", "xts-plain64:md5", "", -1)},
		{"cipher unknown", names("foo", "", "", -1)},
		{"cipher empty", names("", "", "", -1)},
		{"cipher 3des", names("3des", "", "", -1)},
		{"serpent", names("serpent", "", "", -1)},
		{"twofish 24", names("twofish", "cbc-plain", "", 24)},
		{"cast5 16", names("cast5", "cbc-plain", "", 16)},
		{"cast5 24", names("cast5", "cbc-plain", "", 24)},
		{"aes key 0", names("", "cbc-plain", "", 0)},
		{"aes xts key 33", names("", "", "", 33)},
		{"aes xts key 1", names("", "", "", 1)},
		{"aes key 2^31", names("", "cbc-plain", "", 1<<31)},
		{"hash unknown", names("", "", "foo", -1)},
		{"hash ripemd160", names("", "", "ripemd160", -1)},
		{"essiv without a hash", names("", "cbc-essiv", "", 16)},
		{"essiv aes md5", names("", "cbc-essiv:md5", "", 16)},
		{"essiv aes-128 sha256", names("", "cbc-essiv:sha256", "", 16)},
		{"essiv aes sha1", names("", "cbc-essiv:sha1", "", 16)},
		{"essiv aes sha512", names("", "cbc-essiv:sha512", "", 16)},
		{"essiv cast5 md5", names("cast5", "cbc-essiv:md5", "", 16)},
		{"essiv cast5 sha256", names("cast5", "cbc-essiv:sha256", "", 16)},
		{"essiv serpent sha384", names("serpent", "cbc-essiv:sha384", "", 16)},
		{"essiv twofish ripemd160", names("twofish", "cbc-essiv:ripemd160", "", 16)},
		{"essiv twofish sha224", names("twofish", "cbc-essiv:sha224", "", 24)},
		{"names after a header fault", func(b []byte) []byte { return set(164, 0)(names("foo", "", "", -1)(b)) }},
		{"two faults: qemu's first", func(b []byte) []byte { return set(slot(2, 0), 1)(set(164, 0)(b)) }},
		{"payload past the end", func(b []byte) []byte { return b[:1<<20] }},
		{"header only", func(b []byte) []byte { return b[:4096] }},
		{"magic and version only", func(b []byte) []byte { return b[:8] }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.edit(bytes.Clone(base))
			p := filepath.Join(t.TempDir(), "img")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd := exec.Command(qemuImg, "info", "--output=json", p)
			cmd.Stderr = &stderr
			out, qerr := cmd.Output()
			var res Recognised
			for i := range RecogniserCount() {
				if r, ok := Recognise(i, bytes.NewReader(b), int64(len(b)), 64<<10); ok && r.Format == shared.InspectFmtLuks {
					res = r
				}
			}
			if !res.Matched {
				t.Fatal("luks did not match")
			}
			if qerr != nil {
				want, ok := strings.CutPrefix(strings.TrimSpace(stderr.String()), "qemu-img: Could not open '"+p+"': ")
				if !ok {
					t.Fatalf("qemu-img: %s", stderr.String())
				}
				if len(res.Failures) != 1 || res.Failures[0].Check != shared.InspectCheckOpen || res.Failures[0].Reason != want || res.HasVirtualSize {
					t.Errorf("qemu refuses: %q; inspect: %+v", want, res.Failures)
				}
				return
			}
			var info struct {
				Format      string `json:"format"`
				VirtualSize uint64 `json:"virtual-size"`
			}
			if err := json.Unmarshal(out, &info); err != nil || info.Format != "luks" {
				t.Fatalf("qemu-img: %s %v", out, err)
			}
			if len(res.Failures) != 0 || !res.HasVirtualSize || res.VirtualSize != info.VirtualSize {
				t.Errorf("qemu opens it (size %d); inspect: %+v, size %v %d", info.VirtualSize, res.Failures, res.HasVirtualSize, res.VirtualSize)
			}
		})
	}
}
