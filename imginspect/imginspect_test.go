package imginspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"instar/shared"
	"instar/shared/guestmsg"
	"instar/shared/guestpb"
	"instar/vmm"
)

// result builds what a guest run hands back: r as the completion's result
// (encoded by protoc-gen-go's code, the reference), and failures as the
// operation's messages.
func result(t *testing.T, r *guestpb.InspectResultMessage, failures ...*guestmsg.InspectFailureMessage) *vmm.Result {
	t.Helper()
	b, err := proto.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if b == nil {
		b = []byte{}
	}
	res := &vmm.Result{Complete: &guestmsg.CompleteMessage{Operation: "inspect", Success: true, Result: b}}
	for _, f := range failures {
		res.Messages = append(res.Messages, &guestmsg.GuestMessage{Payload: f})
	}
	return res
}

func fail(check uint32, reason string) *guestmsg.InspectFailureMessage {
	return &guestmsg.InspectFailureMessage{Check: check, Reason: reason}
}

func size(v uint64) *uint64 { return &v }

// TestDecodeAccepts: results within the contract become the verdicts they
// say, failures in check number order, one per check.
func TestDecodeAccepts(t *testing.T) {
	qcow2 := uint64(1 << shared.InspectFmtQcow2)
	cases := []struct {
		name     string
		r        *guestpb.InspectResultMessage
		failures []*guestmsg.InspectFailureMessage
		want     Verdict
	}{
		{"raw", &guestpb.InspectResultMessage{HasVirtualSize: true, VirtualSize: 4096},
			nil, Verdict{Format: "raw", Formats: []string{}, VirtualSize: size(4096), Safe: true}},
		{"safe qcow2", &guestpb.InspectResultMessage{Formats: qcow2, Format: shared.InspectFmtQcow2, HasVirtualSize: true, VirtualSize: 1 << 30},
			nil, Verdict{Format: "qcow2", Formats: []string{"qcow2"}, VirtualSize: size(1 << 30), Safe: true}},
		{"no size", &guestpb.InspectResultMessage{Formats: 1 << shared.InspectFmtGzip, Format: shared.InspectFmtGzip, Failures: 1},
			[]*guestmsg.InspectFailureMessage{fail(shared.InspectCheckContainer, "gzip data")},
			Verdict{Format: "gzip", Formats: []string{"gzip"}, Failures: []Failure{{"container", "gzip data"}}}},
		{"polyglot, checks sorted and joined",
			&guestpb.InspectResultMessage{Formats: qcow2 | 1<<shared.InspectFmtIso, Format: shared.InspectFmtIso, Failures: 3,
				HasVirtualSize: true, VirtualSize: 1<<63 - 1},
			[]*guestmsg.InspectFailureMessage{fail(shared.InspectCheckBackingFile, "names /etc/passwd"),
				fail(shared.InspectCheckPolyglot, "iso and qcow2"), fail(shared.InspectCheckBackingFile, "again")},
			Verdict{Format: "iso", Formats: []string{"qcow2", "iso"}, VirtualSize: size(1<<63 - 1),
				Failures: []Failure{{"polyglot", "iso and qcow2"}, {"backing_file", "names /etc/passwd; again"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(result(t, c.r, c.failures...))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestDecodeRefuses: every way a guest can step outside the contract is a
// one-line error saying what it sent.
func TestDecodeRefuses(t *testing.T) {
	qcow2 := uint64(1 << shared.InspectFmtQcow2)
	ok := func(n uint32) *guestpb.InspectResultMessage {
		return &guestpb.InspectResultMessage{Formats: qcow2, Format: shared.InspectFmtQcow2, Failures: n}
	}
	many := make([]*guestmsg.InspectFailureMessage, shared.InspectMaxFailures+1)
	for i := range many {
		many[i] = fail(shared.InspectCheckBackingFile, "x")
	}
	cases := []struct {
		name     string
		res      *vmm.Result
		wantText string
	}{
		{"no completion", &vmm.Result{Errors: []*guestmsg.ErrorMessage{{Message: "boom\x1b[31m"}}}, "without a result: boom?[31m"},
		{"no result", &vmm.Result{Complete: &guestmsg.CompleteMessage{}}, "without a result"},
		{"undecodable", &vmm.Result{Complete: &guestmsg.CompleteMessage{Result: []byte{0xff}}}, "does not decode"},
		{"error code", result(t, &guestpb.InspectResultMessage{Error: shared.InspectErrReadFailed}), "could not read the file"},
		{"unknown error code", result(t, &guestpb.InspectResultMessage{Error: 99}), "guest sent unknown error code 99"},
		{"format out of range", result(t, &guestpb.InspectResultMessage{Format: shared.InspectFmtCount}), "guest sent format number 21"},
		{"format huge", result(t, &guestpb.InspectResultMessage{Format: 1 << 31}), "guest sent format number"},
		{"formats beyond", result(t, &guestpb.InspectResultMessage{Formats: 1 << shared.InspectFmtCount, Format: 0}), "bits beyond"},
		{"formats top bit", result(t, &guestpb.InspectResultMessage{Formats: 1<<63 | qcow2, Format: 1}), "bits beyond"},
		{"raw bit", result(t, &guestpb.InspectResultMessage{Formats: 1}), "raw among the formats"},
		{"raw but claimed", result(t, &guestpb.InspectResultMessage{Formats: qcow2}), "format raw for a file"},
		{"format not claimed", result(t, &guestpb.InspectResultMessage{Formats: qcow2, Format: shared.InspectFmtVmdk}), "vmdk, which is not among"},
		{"claimed, none chosen", result(t, &guestpb.InspectResultMessage{Format: shared.InspectFmtQcow2}), "qcow2, which is not among"},
		{"virtual size", result(t, &guestpb.InspectResultMessage{HasVirtualSize: true, VirtualSize: 1 << 63}), "virtual size 9223372036854775808"},
		{"count too large", result(t, ok(shared.InspectMaxFailures+1)), "count of 65 failures"},
		{"too many messages", result(t, ok(shared.InspectMaxFailures), many...), "more than 64 failures"},
		{"fewer than counted", result(t, ok(2), fail(shared.InspectCheckBackingFile, "x")), "sent 1 failures but counted 2"},
		{"more than counted", result(t, ok(0), fail(shared.InspectCheckBackingFile, "x")), "sent 1 failures but counted 0"},
		{"check out of range", result(t, ok(1), fail(shared.InspectCheckCount, "x")), "check number 18"},
		{"host check expect", result(t, ok(1), fail(shared.InspectCheckExpectFormat, "x")), "expect_format, a check only the host makes"},
		{"host check allow", result(t, ok(1), fail(shared.InspectCheckAllowFormats, "x")), "allow_formats, a check only the host makes"},
		{"host check not inspected", result(t, ok(1), fail(shared.InspectCheckNotInspected, "x")), "not_inspected, a check only the host makes"},
		{"empty reason", result(t, ok(1), fail(shared.InspectCheckBackingFile, "")), "without a reason"},
		{"long reason", result(t, ok(1), fail(shared.InspectCheckBackingFile, strings.Repeat("a", MaxReason+1))), "reason of 1025 bytes"},
		{"not UTF-8", result(t, ok(1), fail(shared.InspectCheckBackingFile, "a\xffb")), "not UTF-8"},
		{"other message", &vmm.Result{Complete: result(t, ok(0)).Complete,
			Messages: []*guestmsg.GuestMessage{{Payload: &guestmsg.SnapshotMessage{}}}}, "message inspect does not use"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.res)
			if err == nil {
				t.Fatalf("accepted")
			}
			if msg := err.Error(); !strings.Contains(msg, c.wantText) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line containing %q", msg, c.wantText)
			}
		})
	}
	// A reason of exactly MaxReason bytes is still accepted.
	if _, err := Decode(result(t, ok(1), fail(shared.InspectCheckBackingFile, strings.Repeat("a", MaxReason)))); err != nil {
		t.Errorf("a reason of %d bytes: %v", MaxReason, err)
	}
}

// TestDecodeRandom: random results and messages never panic, and whatever
// is accepted keeps the contract.
func TestDecodeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	accepted := 0
	for i := 0; i < 20000; i++ {
		m := &guestpb.InspectResultMessage{Formats: r.Uint64() >> r.IntN(64), Format: uint32(r.IntN(shared.InspectFmtCount + 2)),
			HasVirtualSize: r.IntN(2) == 0, VirtualSize: r.Uint64() >> r.IntN(64), Failures: uint32(r.IntN(4))}
		if r.IntN(2) == 0 {
			m.Formats &= 1<<shared.InspectFmtCount - 2
			if m.Format != 0 {
				m.Formats |= 1 << m.Format
			} else {
				m.Formats = 0
			}
		}
		var fs []*guestmsg.InspectFailureMessage
		for k := r.IntN(4); k > 0; k-- {
			fs = append(fs, fail(uint32(r.IntN(shared.InspectCheckCount+1)), []string{"", "x", "\xff", "a\x1bb"}[r.IntN(4)]))
		}
		v, err := Decode(result(t, m, fs...))
		if err != nil {
			continue
		}
		accepted++
		if v.Safe != (len(v.Failures) == 0) || len(v.Failures) > len(fs) {
			t.Fatalf("%v: verdict %+v", m, v)
		}
		for _, f := range v.Failures {
			if n := checkNumber[f.Check]; hostOnly[uint32(n)] || f.Reason == "" {
				t.Fatalf("%v: failure %+v", m, f)
			}
		}
	}
	if accepted == 0 {
		t.Error("nothing accepted")
	}
}

// TestHostChecks: --expect-format and --allow-formats add their failures
// only when the detected format differs, accept vhd for vpc, and refuse
// unknown names.
func TestHostChecks(t *testing.T) {
	base := func(format string) Verdict {
		return Verdict{Format: format, Formats: []string{format}, Safe: true,
			Failures: nil}
	}
	cases := []struct {
		format, expect string
		allow          []string
		want           []string // failed checks
	}{
		{"qcow2", "qcow2", nil, nil},
		{"qcow2", "raw", nil, []string{"expect_format"}},
		{"vpc", "vhd", nil, nil},
		{"vpc", "", []string{"vhd"}, nil},
		{"vpc", "", []string{"raw", "qcow2"}, []string{"allow_formats"}},
		{"raw", "qcow2", []string{"qcow2"}, []string{"expect_format", "allow_formats"}},
		{"raw", "", []string{"qcow2", "raw"}, nil},
		{"gpt", "raw", []string{"raw"}, nil},
		{"gpt", "gpt", []string{"gpt"}, nil},
		{"raw", "gpt", []string{"gpt"}, []string{"expect_format", "allow_formats"}},
		{"iso", "raw", []string{"raw"}, []string{"expect_format", "allow_formats"}},
	}
	for _, c := range cases {
		v := base(c.format)
		if err := AddHostChecks(&v, c.expect, c.allow); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range v.Failures {
			got = append(got, f.Check)
		}
		if !reflect.DeepEqual(got, c.want) || v.Safe != (len(c.want) == 0) {
			t.Errorf("%s, expect %q, allow %q: failures %v safe %v, want %v", c.format, c.expect, c.allow, got, v.Safe, c.want)
		}
	}
	// Host failures go in check number order among the guest's.
	v := Verdict{Format: "qcow2", Failures: []Failure{{"backing_file", "b"}, {"container", "c"}}}
	if err := AddHostChecks(&v, "raw", []string{"vmdk"}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(v.Failures); got != "[{backing_file b} {container c} {expect_format the file is qcow2, not raw} {allow_formats the file is qcow2, which is not among vmdk}]" {
		t.Errorf("order: %s", got)
	}
	for _, bad := range []string{"qcow3", "", "QCOW2", "vhd "} {
		v := base("raw")
		if err := AddHostChecks(&v, bad, nil); err == nil && bad != "" {
			t.Errorf("expect %q accepted", bad)
		}
		if _, err := ParseFormatList("raw," + bad); err == nil {
			t.Errorf("list with %q accepted", bad)
		}
	}
	if got, err := ParseFormatList("vhd,qcow2,raw"); err != nil || !reflect.DeepEqual(got, []string{"vpc", "qcow2", "raw"}) {
		t.Errorf("ParseFormatList: %v %v", got, err)
	}
}

// TestJSON: a verdict is one line of JSON of the documented shape, every
// key present, failures in order.
func TestJSON(t *testing.T) {
	v := Verdict{Filename: "a<b>\x01.img", Format: "qcow2", Formats: []string{"qcow2", "iso"},
		Failures: []Failure{{"polyglot", "two"}, {"backing_file", "names \"x\""}}}
	line := JSON(&v)
	if strings.Count(string(line), "\n") != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("not one line: %q", line)
	}
	want := `{"filename":"a<b>\u0001.img","format":"qcow2","formats":["qcow2","iso"],"virtual-size":null,"safe":false,"failures":{"polyglot":"two","backing_file":"names \"x\""}}` + "\n"
	if string(line) != want {
		t.Errorf("got  %s\nwant %s", line, want)
	}
	var back map[string]any
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatal(err)
	}
	v = Verdict{Filename: "x", Format: "raw", Formats: []string{}, VirtualSize: size(1 << 40), Safe: true}
	if got := string(JSON(&v)); got != `{"filename":"x","format":"raw","formats":[],"virtual-size":1099511627776,"safe":true,"failures":{}}`+"\n" {
		t.Errorf("got %s", got)
	}
}

// TestHuman: the human block, with image-derived text escaped.
func TestHuman(t *testing.T) {
	v := Verdict{Filename: "d.img", Format: "iso", Formats: []string{"qcow2", "iso"}, VirtualSize: size(1 << 30),
		Failures: []Failure{{"polyglot", "iso\x1b[2J and \x00qcow2"}}}
	want := "filename: d.img\nformat: iso\nformats: qcow2, iso\nvirtual size: 1 GiB (1073741824 bytes)\nsafe: no\n  polyglot: iso\\x1b[2J and \\x00qcow2\n"
	if got := string(Human(&v)); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	v = Verdict{Filename: "r", Format: "raw", Formats: []string{}, Safe: true}
	if got := string(Human(&v)); got != "filename: r\nformat: raw\nsafe: yes\n" {
		t.Errorf("got %q", got)
	}
}

// TestNotInspected: a file without a verdict still gets one line of
// JSON (and a human block) of the documented shape: unsafe, format
// unknown, the error's words without the file name under not_inspected.
func TestNotInspected(t *testing.T) {
	for _, c := range []struct {
		path  string
		err   error
		json  string
		human string
	}{
		{"adir", errors.New("adir: is a directory"),
			`{"filename":"adir","format":null,"formats":[],"virtual-size":null,"safe":false,"failures":{"not_inspected":"is a directory"}}` + "\n",
			"filename: adir\nsafe: no\n  not_inspected: is a directory\n"},
		{"x.img", errors.New("the inspect guest completed without a result"),
			`{"filename":"x.img","format":null,"formats":[],"virtual-size":null,"safe":false,"failures":{"not_inspected":"the inspect guest completed without a result"}}` + "\n",
			"filename: x.img\nsafe: no\n  not_inspected: the inspect guest completed without a result\n"},
		{"a", errors.New("a: "), `{"filename":"a","format":null,"formats":[],"virtual-size":null,"safe":false,"failures":{"not_inspected":"a: "}}` + "\n",
			"filename: a\nsafe: no\n  not_inspected: a: \n"},
	} {
		v := NotInspected(c.path, c.err)
		if v.Safe || len(v.Failures) != 1 {
			t.Errorf("%s: %+v", c.path, v)
		}
		if got := string(JSON(&v)); got != c.json {
			t.Errorf("%s: JSON\n got  %s want %s", c.path, got, c.json)
		}
		if got := string(Human(&v)); got != c.human {
			t.Errorf("%s: human %q, want %q", c.path, got, c.human)
		}
	}
}

// TestBatchOrder: a batch hands back outcomes in input order whatever
// order they finish in, runs at most jobs at once, and runs them in
// parallel.
func TestBatchOrder(t *testing.T) {
	paths := make([]string, 40)
	for i := range paths {
		paths[i] = fmt.Sprint(i)
	}
	for _, jobs := range []int{0, 1, 3, 8, 100} {
		var running, most atomic.Int32
		r := rand.New(rand.NewPCG(uint64(jobs), 1))
		delays := make([]time.Duration, len(paths))
		for i := range delays {
			delays[i] = time.Duration(r.IntN(3)) * time.Millisecond
		}
		inspect := func(ctx context.Context, p string) (Verdict, error) {
			n := running.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			var i int
			fmt.Sscan(p, &i)
			time.Sleep(delays[i])
			running.Add(-1)
			if i%7 == 3 {
				return Verdict{}, fmt.Errorf("%s: bad", p)
			}
			return Verdict{Filename: p}, nil
		}
		var got []string
		Batch(context.Background(), paths, jobs, inspect, func(i int, o Outcome) {
			if o.Err != nil {
				got = append(got, o.Err.Error())
			} else {
				got = append(got, o.Verdict.Filename)
			}
			if i != len(got)-1 {
				t.Errorf("emit index %d at position %d", i, len(got)-1)
			}
		})
		for i, g := range got {
			want := fmt.Sprint(i)
			if i%7 == 3 {
				want += ": bad"
			}
			if g != want {
				t.Fatalf("jobs %d: position %d is %q", jobs, i, g)
			}
		}
		if len(got) != len(paths) {
			t.Fatalf("jobs %d: %d outcomes", jobs, len(got))
		}
		limit := max(jobs, 1)
		if int(most.Load()) > limit {
			t.Errorf("jobs %d: %d ran at once", jobs, most.Load())
		}
		if jobs >= 3 && most.Load() < 2 {
			t.Errorf("jobs %d: never more than one at once", jobs)
		}
	}
}
