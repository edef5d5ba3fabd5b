package imginspect

import (
	"os"
	"strings"
	"testing"

	"instar/shared"
)

// TestDocsNameEveryCheck: docs/inspect.md has a row for every check of
// shared.InspectChecks and names every format, so the documentation
// cannot fall behind the contract.
func TestDocsNameEveryCheck(t *testing.T) {
	b, err := os.ReadFile("../docs/inspect.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, c := range shared.InspectChecks {
		if !strings.Contains(doc, "\n| `"+c.Name+"` |") {
			t.Errorf("docs/inspect.md has no row for check %s (%s)", c.Name, c.Rule)
		}
	}
	for _, f := range shared.InspectFormatNames {
		if !strings.Contains(doc, "`"+f+"`") {
			t.Errorf("docs/inspect.md does not name format %s", f)
		}
	}
}
