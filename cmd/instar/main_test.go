package main

import (
	"io"
	"os"
	"testing"

	"instar/cli"
)

// TestMain lets tests run this test binary as instar itself: with
// INSTAR_TEST_MAIN=1 it is the command, so tests see real exit statuses,
// stdout and stderr, and can send it signals.
func TestMain(m *testing.M) {
	if os.Getenv("INSTAR_TEST_MAIN") == "1" {
		os.Exit(cli.Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// dispatch runs one command line in this process.
func dispatch(args []string, stdout io.Writer) error {
	return cli.Execute(args, stdout)
}
