package process

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"testing"

	"instar/vmm/process/stubelf"
)

// TestStubHeader checks that the values mirrored from guest/stub/stub.h
// agree with it.
func TestStubHeader(t *testing.T) {
	f, err := os.Open("../../guest/stub/stub.h")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defs := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[0] != "#define" || fields[1] == "STUB_H" {
			continue
		}
		v, ok := parseCNumber(strings.Join(fields[2:], " "))
		if !ok {
			t.Fatalf("cannot parse %q", sc.Text())
		}
		defs[fields[1]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint64{
		"STUB_GUEST_BASE":  guestBase,
		"STUB_MAX_RAM":     maxRAM,
		"STUB_MAX_RANGES":  maxRanges,
		"STUB_READY_MAGIC": stubReadyMagic,
	} {
		if got, ok := defs[name]; !ok || got != want {
			t.Errorf("%s is %#x in stub.h, %#x here", name, got, want)
		}
	}
	codes := 0
	for name, v := range defs {
		if !strings.HasPrefix(name, "STUB_EXIT_") {
			continue
		}
		codes++
		if _, ok := stubExits[int(v)]; !ok {
			t.Errorf("%s (%d) has no message here", name, v)
		}
	}
	if codes != len(stubExits) {
		t.Errorf("stub.h has %d exit codes, stubExits %d", codes, len(stubExits))
	}
}

// parseCNumber parses the constant forms stub.h uses: 123, 0x1fULL,
// (1ULL << 40), each optionally followed by a comment.
func parseCNumber(s string) (uint64, bool) {
	if i := strings.Index(s, "/*"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		l, r, ok := strings.Cut(s[1:len(s)-1], "<<")
		if !ok {
			return 0, false
		}
		a, ok1 := parseCNumber(l)
		b, ok2 := parseCNumber(r)
		return a << b, ok1 && ok2
	}
	s = strings.TrimRight(s, "UL")
	v, err := strconv.ParseUint(s, 0, 64)
	return v, err == nil
}

// TestCheckStub accepts the real stub, with the lowest load address
// debug/elf finds, and refuses each damaged copy of it.
func TestCheckStub(t *testing.T) {
	stub := guestBinary(t, "stub")
	f, err := elf.NewFile(bytes.NewReader(stub))
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(1<<64 - 1)
	var firstLoad int
	for i, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			if want == 1<<64-1 {
				firstLoad = i
			}
			want = min(want, p.Vaddr)
		}
	}
	if low, err := stubelf.Check(stub, maxRAM); err != nil || low != want {
		t.Fatalf("Check = %#x, %v; want %#x", low, err, want)
	}
	le := binary.LittleEndian
	phoff := int(le.Uint64(stub[32:]))
	load := phoff + firstLoad*56
	edit := func(at int, b ...byte) []byte {
		c := append([]byte(nil), stub...)
		copy(c[at:], b)
		return c
	}
	u64 := func(v uint64) []byte { return le.AppendUint64(nil, v) }
	for name, bad := range map[string][]byte{
		"truncated":            stub[:40],
		"bad magic":            edit(0, 0x7f, 'E', 'L', 'G'),
		"32-bit":               edit(4, 1),
		"big-endian":           edit(5, 2),
		"shared object":        edit(16, 3, 0),
		"not x86-64":           edit(18, 183, 0),
		"bad phentsize":        edit(54, 32, 0),
		"phoff past the end":   edit(32, u64(uint64(len(stub)))...),
		"phnum past the end":   edit(56, 0xff, 0xff),
		"interpreter":          edit(load, 3, 0, 0, 0),
		"dynamic":              edit(load, 2, 0, 0, 0),
		"loads in guest range": edit(load+16, u64(0x400000)...),
	} {
		if _, err := stubelf.Check(bad, maxRAM); err == nil {
			t.Errorf("%s: Check accepted it", name)
		}
	}
}
