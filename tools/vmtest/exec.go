package vmtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// runCmd runs a program non-interactively in dir and returns its standard
// output; on failure the error carries its standard error.
func runCmd(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	return runCmdEnv(ctx, dir, append(os.Environ(), "DEBIAN_FRONTEND=noninteractive"), name, args...)
}

// runCmdEnv is runCmd with the given environment.
func runCmdEnv(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail(stderr.Bytes(), 2000))
	}
	return out, nil
}

// tail returns at most the last n bytes of b as a trimmed string.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// runFilter runs a program with stdin r and stdout w.
func runFilter(r io.Reader, w io.Writer, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout = r, w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, tail(stderr.Bytes(), 2000))
	}
	return nil
}
