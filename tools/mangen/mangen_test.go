package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"instar/cli"
)

// TestPagesMatchHelp generates the pages and, for every command, wants a
// page whose every option is one that command's --help lists, and the
// other way round, with the same option texts and description; and man(1)
// must render it.
func TestPagesMatchHelp(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(dir); err != nil {
		t.Fatal(err)
	}
	longOpt := regexp.MustCompile(`--[a-z][a-z-]*`)
	for _, cmd := range [][]string{{}, {"create"}, {"doctor"}, {"version"}, {"completion"}, {"completion", "bash"}} {
		name := strings.Join(append([]string{"instar"}, cmd...), "-") + ".1"
		page, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("no page %s: %v", name, err)
			continue
		}
		// The page as text: groff's escapes for "-" undone.
		text := strings.ReplaceAll(string(page), `\-`, "-")
		var help bytes.Buffer
		if err := cli.Execute(append(append([]string{}, cmd...), "--help"), &help); err != nil {
			t.Fatalf("%q --help: %v", cmd, err)
		}
		helpOpts := strings.Join(longOpt.FindAllString(flagsPart(help.String()), -1), " ")
		pageOpts := strings.Join(longOpt.FindAllString(optionsPart(text), -1), " ")
		if helpOpts != pageOpts {
			t.Errorf("%s: options %q; --help has %q", name, pageOpts, helpOpts)
		}
		// Each option's help text.
		flat := strings.Join(strings.Fields(text), " ")
		for _, line := range strings.Split(strings.TrimSpace(flagsPart(help.String())), "\n") {
			if cols := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), 2); len(cols) == 2 && !strings.Contains(flat, cols[1]) {
				t.Errorf("%s lacks the option text %q", name, cols[1])
			}
		}
		// The first paragraph of the description, as one line.
		first := strings.Join(strings.Fields(strings.SplitN(help.String(), "\n\n", 2)[0]), " ")
		if !strings.Contains(strings.Join(strings.Fields(text), " "), first) {
			t.Errorf("%s does not carry the description %q", name, first)
		}
	}
	if _, err := exec.LookPath("man"); err == nil {
		out, err := exec.Command("man", "-l", "-P", "cat", filepath.Join(dir, "instar-create.1")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--backing-format") {
			t.Errorf("man -l instar-create.1: %v\n%s", err, out)
		}
	}
}

// flagsPart is the option list of a --help text.
func flagsPart(help string) string {
	_, flags, _ := strings.Cut(help, "\nFlags:\n")
	flags, _, _ = strings.Cut(flags, "\nGlobal Flags:\n")
	flags, _, _ = strings.Cut(flags, "\nUse \"")
	return flags
}

// optionsPart is a man page's OPTIONS section.
func optionsPart(page string) string {
	_, opts, _ := strings.Cut(page, ".SH OPTIONS\n")
	opts, _, _ = strings.Cut(opts, "\n.SH ")
	return opts
}
