package process

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
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
