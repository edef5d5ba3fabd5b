package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// bashCompletion is the bash-completion package's library, which cobra's
// bash script needs.
const bashCompletion = "/usr/share/bash-completion/bash_completion"

// TestBashCompletion sources `instar completion bash` in a real bash and
// runs its completion function on command lines as readline splits them
// (at the characters of COMP_WORDBREAKS, "=" among them), with this test
// binary as the instar on PATH, and reads COMPREPLY.
func TestBashCompletion(t *testing.T) {
	if _, err := os.Stat(bashCompletion); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("bash-completion is not installed; the check installs it (tools/prereq)")
		}
		t.Fatal("bash-completion is needed (mage check installs it)")
	}
	bin := t.TempDir()
	if err := os.Symlink(os.Args[0], filepath.Join(bin, "instar")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		line string // up to the cursor
		want string // COMPREPLY, space-separated
	}{
		{"instar cr", "create"},
		{"instar create -f q", "qcow2"},
		{"instar create -f v", "vhdx vmdk vpc"},
		{"instar create -f qcow2 -o clu", "cluster_size="},
		{"instar create -o clu -f qcow2 x", ""},
		// After "=" bash replaces only the part after it; cobra escapes
		// the comma, which the shell reads as a comma.
		{"instar create -fqcow2 -o cluster_size=64k,la", `64k\,lazy_refcounts=`},
		{"instar create -f qcow2 -o preallocation=f", "falloc full"},
		{"instar create -f vpc -o force_size=o", "on off"},
		{"instar create -F r", "raw"},
		{"instar create --accel p", "process"},
		{"instar create --back", "--backing --backing-format"},
		{"instar doctor --output j", "json"},
		{"instar completion z", "zsh"},
	} {
		words := readlineWords(c.line)
		script := `source ` + bashCompletion + `
source <(instar completion bash)
COMP_WORDS=(` + quoteWords(words) + `)
COMP_CWORD=` + strconv.Itoa(len(words)-1) + `
COMP_LINE='` + c.line + `'
COMP_POINT=${#COMP_LINE}
fn=$(complete -p instar | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
"$fn" instar "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"
`
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", script)
		cmd.Env = append(os.Environ(), "INSTAR_TEST_MAIN=1", "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: bash: %v\n%s", c.line, err, out)
		}
		got := strings.Join(strings.Fields(string(out)), " ")
		if got != c.want {
			t.Errorf("%q: COMPREPLY %q, want %q", c.line, got, c.want)
		}
	}
}

// readlineWords splits a line into COMP_WORDS as readline does with
// bash's default COMP_WORDBREAKS: at spaces, and with each "=" a word of
// its own.
func readlineWords(line string) []string {
	var words []string
	for _, f := range strings.Split(line, " ") {
		for {
			before, after, ok := strings.Cut(f, "=")
			if !ok {
				words = append(words, f)
				break
			}
			if before != "" {
				words = append(words, before)
			}
			words = append(words, "=")
			f = after
		}
	}
	return words
}

func quoteWords(words []string) string {
	var q []string
	for _, w := range words {
		q = append(q, "'"+w+"'")
	}
	return strings.Join(q, " ")
}

// TestCompleteProtocol asks `instar __complete`, which every shell's script
// calls, for what bash's test cannot see: file-name completion (the
// directive, 0, lets the shell list files) and attached arguments.
func TestCompleteProtocol(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // completions, then the directive
	}{
		{[]string{"create", "-f", "qcow2", ""}, ":0"},
		{[]string{"create", "-b", ""}, ":0"},
		{[]string{"create", "-fv"}, "-fvhdx -fvmdk -fvpc :4"},
		{[]string{"create", "-qfr"}, "-qfraw :4"},
		{[]string{"create", "--format=qc"}, "--format=qcow2 :4"},
		{[]string{"create", "--form=qc"}, "--form=qcow2 :4"},
		{[]string{"create", "-f", "vmdk", "-o", "subformat=two"}, "subformat=twoGbMaxExtentSparse subformat=twoGbMaxExtentFlat :4"},
		{[]string{"create", "-f", "vmdk", "-o", "adapter_type="}, "adapter_type=ide adapter_type=lsilogic adapter_type=buslogic adapter_type=legacyESX :4"},
		{[]string{"create", "-f", "vhdx", "-o", "subformat="}, "subformat=dynamic subformat=fixed :4"},
		{[]string{"create", "-f", "qcow2", "-o", "backing_file=a,,b,backing_f"}, "backing_file=a,,b,backing_file= backing_file=a,,b,backing_fmt= :6"},
		{[]string{"create", "--", "-f", ""}, ":0"},
	} {
		stdout, stderr, status := instar(t, t.TempDir(), append([]string{"__complete"}, c.args...)...)
		if status != 0 {
			t.Fatalf("%q: status %d: %s", c.args, status, stderr)
		}
		if got := strings.Join(strings.Fields(stdout), " "); got != c.want {
			t.Errorf("%q: %q, want %q", c.args, got, c.want)
		}
	}
}

// TestCompletionScripts: each shell's script asks instar's __complete,
// whose answers TestCompleteProtocol checks (this machine has no zsh or
// fish to run them in).
func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		stdout, stderr, status := instar(t, t.TempDir(), "completion", shell)
		if status != 0 || stderr != "" || !strings.Contains(stdout, "__complete") || !strings.Contains(stdout, "instar") {
			t.Errorf("completion %s: status %d, stderr %q, %d bytes", shell, status, stderr, len(stdout))
		}
	}
	if _, stderr, status := instar(t, t.TempDir(), "completion", "powershell"); status != 1 || !strings.HasPrefix(stderr, "instar: ") {
		t.Errorf("completion powershell: status %d, stderr %q", status, stderr)
	}
}
