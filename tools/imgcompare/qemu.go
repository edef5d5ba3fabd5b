package imgcompare

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// QemuImg is the qemu-img binary the checks run.
var QemuImg = "qemu-img"

// run runs qemu-img and returns stdout, the exit code, and stderr. err is
// set only when qemu-img could not be run at all.
func run(args ...string) (stdout []byte, code int, stderr string, err error) {
	cmd := exec.Command(QemuImg, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return o.Bytes(), ee.ExitCode(), strings.TrimSpace(e.String()), nil
	}
	if err != nil {
		return nil, -1, "", fmt.Errorf("run %s: %w", QemuImg, err)
	}
	return o.Bytes(), 0, strings.TrimSpace(e.String()), nil
}

// notSupported is qemu-img check's exit code for a format without checks
// (vpc in 7.2): there is nothing to check then.
const notSupported = 63

// Check runs `qemu-img check` on path and fails on any error, corruption
// or leak, or when qemu-img cannot check the image at all. A qcow2 image
// is opened without its backing file, which check does not need: images
// whose backing file does not exist can be checked too.
func Check(path, format string) error { return check(path, format, "") }

// target is how qemu-img is told to open path: by name, or, with an
// external data file, as a JSON description naming it; noBacking leaves
// out a qcow2's backing file.
func target(path, format, dataFile string, noBacking bool) []string {
	if format != "qcow2" || dataFile == "" && !noBacking {
		return []string{"-f", format, path}
	}
	d := map[string]any{"driver": "qcow2", "file": map[string]any{"driver": "file", "filename": path}}
	if noBacking {
		d["backing"] = nil
	}
	if dataFile != "" {
		d["data-file"] = map[string]any{"driver": "file", "filename": dataFile}
	}
	j, _ := json.Marshal(d)
	return []string{"json:" + string(j)}
}

func check(path, format, dataFile string) error {
	target := target(path, format, dataFile, true)
	out, code, stderr, err := run(append([]string{"check", "--output=json"}, target...)...)
	if err != nil {
		return err
	}
	if code == notSupported && strings.Contains(stderr, "does not support checks") {
		return nil
	}
	var r struct {
		CheckErrors *int64 `json:"check-errors"`
		Corruptions *int64 `json:"corruptions"`
		Leaks       *int64 `json:"leaks"`
	}
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		return fmt.Errorf("qemu-img check exit %d: %s %s", code, strings.TrimSpace(string(out)), stderr)
	}
	var probs []string
	if code != 0 {
		probs = append(probs, fmt.Sprintf("exit code %d", code))
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"check-errors", r.CheckErrors}, {"corruptions", r.Corruptions}, {"leaks", r.Leaks}} {
		if f.v != nil && *f.v != 0 {
			probs = append(probs, fmt.Sprintf("%s=%d", f.name, *f.v))
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%s not clean: %s %s", path, strings.Join(probs, ", "), stderr)
	}
	return nil
}

// QemuCompare runs `qemu-img compare` and fails unless it says the guest
// visible contents are identical. Backing files must exist.
func QemuCompare(ours, theirs, format string) error {
	return qemuCompare(ours, theirs, format, [2]string{})
}

func qemuCompare(ours, theirs, format string, dataFiles [2]string) error {
	args := []string{"compare", "-f", format, "-F", format, ours, theirs}
	if dataFiles[0] != "" {
		a, b := target(ours, format, dataFiles[0], false), target(theirs, format, dataFiles[1], false)
		args = []string{"compare", a[len(a)-1], b[len(b)-1]}
	}
	out, code, stderr, err := run(args...)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("exit code %d: %s %s", code, strings.TrimSpace(string(out)), stderr)
	}
	return nil
}
