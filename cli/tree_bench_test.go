package cli

import (
	"io"
	"testing"
)

// BenchmarkTree is the command tree's share of every command: building
// it and running a command that does nothing (version --help's help goes
// to io.Discard).
func BenchmarkTree(b *testing.B) {
	for b.Loop() {
		root := Command()
		root.SetArgs([]string{"create", "--timeout", "x"})
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		_ = root.Execute()
	}
}
