package wire

import (
	"reflect"
	"strings"
	"testing"
)

func TestParamRoundTrip(t *testing.T) {
	argv := []string{"/bin/instar", "create", "-f", "qcow2", "a b", "ünïcode", `"quoted"`, ""}
	word, err := EncodeParam(argv)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(word, " \t\n\"") {
		t.Fatalf("encoded word %q is not a single command line word", word)
	}
	cmdline := "console=ttyS0 panic=-1 quiet " + word + " foo.bar=1\n"
	got, ok, err := DecodeParam(cmdline)
	if err != nil || !ok {
		t.Fatalf("DecodeParam: ok=%v err=%v", ok, err)
	}
	if !reflect.DeepEqual(got, argv) {
		t.Fatalf("round trip: got %q, want %q", got, argv)
	}
}

func TestDecodeParamAbsent(t *testing.T) {
	argv, ok, err := DecodeParam("console=ttyS0 instar.cmdx=1 quiet")
	if ok || err != nil || argv != nil {
		t.Fatalf("got %q, %v, %v; want nil, false, nil", argv, ok, err)
	}
}

func TestDecodeParamBad(t *testing.T) {
	for _, cmdline := range []string{
		Param + "=!!!",
		Param + "=bm90IGpzb24", // "not json"
		Param + "=W10",         // "[]"
	} {
		if _, ok, err := DecodeParam(cmdline); !ok || err == nil {
			t.Errorf("DecodeParam(%q): ok=%v err=%v; want true and an error", cmdline, ok, err)
		}
	}
}

func TestEncodeParamEmpty(t *testing.T) {
	if _, err := EncodeParam(nil); err == nil {
		t.Fatal("EncodeParam(nil) succeeded")
	}
}
