package fuzzrun

import (
	"reflect"
	"testing"
	"time"
)

func TestParseList(t *testing.T) {
	out := "FuzzA\nFuzzB\nok  \tinstar/a\t0.01s\nok  \tinstar/b\t0.01s\nTestNot\nFuzzC\nok  \tinstar/c\t(cached)\n"
	want := []Target{{"instar/a", "FuzzA"}, {"instar/a", "FuzzB"}, {"instar/c", "FuzzC"}}
	if got := parseList([]byte(out)); !reflect.DeepEqual(got, want) {
		t.Errorf("parseList = %v, want %v", got, want)
	}
}

func TestSummary(t *testing.T) {
	out := "fuzz: elapsed: 0s, gathering baseline coverage: 7/7 completed, now fuzzing with 1 workers\n" +
		"fuzz: elapsed: 3s, execs: 382 (127/sec), new interesting: 1 (total: 8)\n" +
		"fuzz: elapsed: 57s, execs: 20000 (6000/sec), new interesting: 4 (total: 11)\n" +
		"fuzz: elapsed: 1m3s, execs: 21000 (300/sec), new interesting: 5 (total: 12)\nPASS\n"
	execs, elapsed, n := summary([]byte(out))
	if execs != 21000 || elapsed != 63*time.Second || n != 5 {
		t.Errorf("summary = %d, %v, %d; want 21000, 1m3s, 5", execs, elapsed, n)
	}
	if execs, _, _ := summary([]byte("FAIL\n")); execs != 0 {
		t.Errorf("summary of no progress = %d execs", execs)
	}
}
