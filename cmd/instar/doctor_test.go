package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestDoctorProcessJSON(t *testing.T) {
	var out bytes.Buffer
	if err := dispatch([]string{"doctor", "--accel", "process", "--output", "json"}, &out); err != nil {
		t.Fatalf("doctor: %v\n%s", err, out.String())
	}
	var rep struct {
		Usable       bool
		Accelerators []struct {
			Name     string
			Usable   bool
			Selftest *struct {
				OK    bool
				Exits int
				RunMS float64 `json:"run_ms"`
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("doctor JSON: %v\n%s", err, out.String())
	}
	if !rep.Usable || len(rep.Accelerators) != 1 {
		t.Fatalf("report %+v", rep)
	}
	a := rep.Accelerators[0]
	if a.Name != "process" || !a.Usable || a.Selftest == nil || !a.Selftest.OK || a.Selftest.Exits < 5 || a.Selftest.RunMS <= 0 {
		t.Errorf("process entry %+v, self-test %+v", a, a.Selftest)
	}
}

func TestDoctorRefusesUnknownAccelerator(t *testing.T) {
	if err := dispatch([]string{"doctor", "--accel", "hyperdrive"}, &bytes.Buffer{}); err == nil {
		t.Error("doctor --accel hyperdrive succeeded")
	}
}
