package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"instar/getopt"
	"instar/vmm"
	"instar/vmm/accel"
	"instar/vmm/selftest"
)

// doctorReport is what `instar doctor --output json` prints.
type doctorReport struct {
	Usable       bool          `json:"usable"`
	Accelerators []doctorAccel `json:"accelerators"`
}

type doctorAccel struct {
	Name     string          `json:"name"`
	Usable   bool            `json:"usable"`
	Reason   string          `json:"reason,omitempty"`
	Note     string          `json:"note,omitempty"`
	Selftest *doctorSelftest `json:"selftest,omitempty"`
}

type doctorSelftest struct {
	OK         bool    `json:"ok"`
	Error      string  `json:"error,omitempty"`
	Exits      int     `json:"exits"`
	SetupMS    float64 `json:"setup_ms"`
	RunMS      float64 `json:"run_ms"`
	TeardownMS float64 `json:"teardown_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func doctorCommand() *cobra.Command {
	return withOptions(&cobra.Command{
		Use:   "doctor [--accel NAME] [--output FMT]",
		Short: "Say whether this machine can run instar guests, and self-test each usable accelerator",
		Long: `Say whether this machine can run instar guests: for each accelerator (kvm,
process), whether it is available, and if so the result and timings of a
self-test guest run. The exit status is 0 when at least one can run guests.`,
	}, func() optionCommand { return &doctorCmd{accel: "auto", output: "human"} })
}

// doctorCmd is `instar doctor`.
type doctorCmd struct {
	accel, output string
}

func (d *doctorCmd) options() []getopt.Option {
	return []getopt.Option{
		{Long: "accel", Arg: "NAME", Help: "accelerator to check: auto (all, the default), kvm or process", Set: getopt.String(&d.accel)},
		{Long: "output", Arg: "FMT", Help: "output format: human (default) or json", Set: getopt.String(&d.output)},
	}
}

func (d *doctorCmd) completeValue(o *getopt.Option, prefix string) ([]string, cobra.ShellCompDirective) {
	if o.Long == "accel" {
		return oneOf(prefix, "auto", "kvm", "process")
	}
	return oneOf(prefix, "human", "json")
}

func (d *doctorCmd) run(stdout io.Writer, operands []string) error {
	accelName, output := d.accel, d.output
	switch {
	case len(operands) > 0:
		return fmt.Errorf("doctor: unexpected argument: %s", operands[0])
	case output != "human" && output != "json":
		return fmt.Errorf("unknown output format %q (want human or json)", output)
	}
	accs := accel.All()
	if accelName != "auto" {
		acc, err := accel.Get(accelName)
		if err != nil {
			return err
		}
		accs = []vmm.Accelerator{acc}
	}
	rep := doctor(accs)
	if output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printDoctor(stdout, rep)
	}
	if !rep.Usable {
		return errors.New("no accelerator can run guests on this machine")
	}
	return nil
}

func doctor(accs []vmm.Accelerator) doctorReport {
	var rep doctorReport
	for _, acc := range accs {
		a := doctorAccel{Name: acc.Name()}
		a.Note = accel.Note(acc)
		if err := acc.Available(); err != nil {
			a.Reason = err.Error()
			rep.Accelerators = append(rep.Accelerators, a)
			continue
		}
		st := &doctorSelftest{}
		res, err := selftest.Run(acc)
		if res != nil {
			st.Exits, st.SetupMS, st.RunMS, st.TeardownMS = res.Exits, ms(res.Setup), ms(res.Run), ms(res.Teardown)
		}
		if err != nil {
			st.Error = err.Error()
			a.Reason = "self-test failed"
		} else {
			st.OK, a.Usable = true, true
			rep.Usable = true
		}
		a.Selftest = st
		rep.Accelerators = append(rep.Accelerators, a)
	}
	return rep
}

func printDoctor(w io.Writer, rep doctorReport) {
	for _, a := range rep.Accelerators {
		switch {
		case a.Selftest == nil:
			fmt.Fprintf(w, "%-8s unavailable: %s\n", a.Name, a.Reason)
		case !a.Selftest.OK:
			fmt.Fprintf(w, "%-8s self-test FAILED: %s\n", a.Name, a.Selftest.Error)
		default:
			s := a.Selftest
			fmt.Fprintf(w, "%-8s ok: self-test passed (%d exits; VM setup %.3f ms, guest run %.3f ms, teardown %.3f ms)\n",
				a.Name, s.Exits, s.SetupMS, s.RunMS, s.TeardownMS)
		}
		if a.Note != "" {
			fmt.Fprintf(w, "%-8s note: %s\n", "", a.Note)
		}
	}
	if rep.Usable {
		fmt.Fprintln(w, "this machine can run instar guests")
	} else {
		fmt.Fprintln(w, "this machine cannot run instar guests")
	}
}
