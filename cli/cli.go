// Package cli is instar's command line: the cobra command tree (root,
// create, info, inspect, doctor, version, help, completion), which cmd/instar runs and
// tools/mangen turns into man pages.
//
// Cobra finds the command; the commands' own options are parsed by
// package getopt, as glibc's getopt_long parses qemu-img's, so that a
// qemu-img command line means the same to instar. They are declared to
// cobra as well (help, completion, man pages) from the same table.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"instar/buildinfo"
	"instar/cpupin"
	"instar/getopt"
)

// StatusError is an error that ends the process with an exit status other
// than 1.
type StatusError struct {
	Status int
	Err    error
	// Quiet says the command has already said what went wrong: Main
	// prints nothing more.
	Quiet bool
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// Main runs one command line as the instar process, which exits right
// after with the status Main returns: 0, or 1 with the error printed as
// one line "instar: ...", or a StatusError's status.
func Main(args []string) int {
	keepIgnoring = true // the process ends with the command
	if len(args) > 0 && args[0] == "create" {
		cpupin.Here() // for good: the process ends with the command
	}
	err := Execute(args, os.Stdout)
	if err == nil {
		return 0
	}
	var se *StatusError
	if errors.As(err, &se) {
		if !se.Quiet {
			fmt.Fprintf(os.Stderr, "instar: %v\n", err)
		}
		return se.Status
	}
	fmt.Fprintf(os.Stderr, "instar: %v\n", err)
	return 1
}

// Execute runs one command line, writing its output to stdout, and
// returns its error unprinted.
func Execute(args []string, stdout io.Writer) error {
	root := Command()
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(os.Stderr)
	return root.Execute()
}

// Command builds the command tree. Nothing is built at init: the tree
// costs only the commands that run it.
func Command() *cobra.Command {
	root := &cobra.Command{
		Use:   "instar",
		Short: "A qemu-img compatible disk image tool that parses images only in a sandboxed guest",
		Long: `instar makes disk images as qemu-img does, with qemu-img's command lines,
from one static binary. Every piece of image-format logic (reading a
backing file's header, laying out an image's metadata) runs in a tiny
sandboxed guest under a VMM inside instar; the host only checks the
command line, opens files and writes what the guest asks, within limits.`,
		Version:                    buildinfo.Read().Version,
		SuggestionsMinimumDistance: 2,
		Args:                       cobra.ArbitraryArgs,
		SilenceErrors:              true,
		SilenceUsage:               true,
		CompletionOptions:          cobra.CompletionOptions{DisableDefaultCmd: true},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("missing command (want create, info, inspect, doctor or version; see instar --help)")
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += ` (did you mean "` + strings.Join(s, `" or "`) + `"?)`
			}
			return fmt.Errorf("%s; see instar --help", msg)
		},
	}
	cobra.AddTemplateFunc("instarBuild", buildText)
	root.SetVersionTemplate("instar version {{.Version}}\n{{instarBuild}}")
	root.AddCommand(createCommand(), infoCommand(), inspectCommand(), doctorCommand(), versionCommand(), completionCommand())
	root.InitDefaultHelpCmd()
	root.InitDefaultHelpFlag()
	root.InitDefaultVersionFlag()
	root.DisableFlagsInUseLine = true
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.DisableAutoGenTag = true // the man pages are reproducible
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}

// optionCommand is a command whose options getopt parses.
type optionCommand interface {
	// options is the option table, bound to the command's state; -h and
	// --help are added to it.
	options() []getopt.Option
	// run runs the command with the operands, once the options are
	// applied.
	run(stdout io.Writer, operands []string) error
}

// usageStatuser is an optionCommand whose usage errors exit with a status
// of their own rather than 1.
type usageStatuser interface {
	usageStatus() int
}

// valueCompleter is an optionCommand that completes option values: the
// word being typed is prefix, the argument of o. The command's state holds
// the options before it.
type valueCompleter interface {
	completeValue(o *getopt.Option, prefix string) ([]string, cobra.ShellCompDirective)
}

// errHelp stops the parse at -h or --help: qemu-img prints its help there
// and exits, whatever follows.
var errHelp = errors.New("help requested")

func helpOption() getopt.Option {
	return getopt.Option{Short: 'h', Long: "help", Help: "print this help",
		Set: func(string) error { return errHelp }}
}

// guestOptions are the options of every command that runs guests: the
// accelerator, and each guest's deadline. plural says whether the command
// may run more than one guest.
func guestOptions(accelName *string, timeout *time.Duration, plural bool) []getopt.Option {
	guest, each := "the guest", "the guest"
	if plural {
		guest, each = "the guests", "each guest"
	}
	return []getopt.Option{
		{Long: "accel", Arg: "NAME", Help: "accelerator for " + guest + ": auto (default), kvm or process", Set: getopt.String(accelName)},
		{Long: "timeout", Arg: "DURATION", Help: "stop " + each + " after this long (default 60s)", Set: func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("invalid duration %q (want e.g. 90s or 5m)", v)
			}
			*timeout = d
			return nil
		}},
	}
}

// withOptions makes c parse its arguments with getopt and the table of
// the optionCommands newCmd makes (a fresh one for each run), and declares
// that table to cobra for help, completion and man pages.
func withOptions(c *cobra.Command, newCmd func() optionCommand) *cobra.Command {
	c.DisableFlagParsing = true
	c.DisableFlagsInUseLine = true
	c.SilenceErrors, c.SilenceUsage = true, true
	c.Flags().SortFlags = false // the table's order, as the old usage had it
	declare(c.Flags(), append(newCmd().options(), helpOption()))
	c.RunE = func(cmd *cobra.Command, args []string) error {
		oc := newCmd()
		operands, err := getopt.Parse(args, append(oc.options(), helpOption()))
		var p *printed
		switch {
		case errors.Is(err, errHelp):
			return cmd.Help()
		case errors.As(err, &p):
			_, err := io.WriteString(cmd.OutOrStdout(), p.text)
			return err
		case err != nil:
			err = fmt.Errorf("%s: %w (see instar %s --help)", cmd.Name(), err, cmd.Name())
			if u, ok := oc.(usageStatuser); ok {
				return &StatusError{Status: u.usageStatus(), Err: err}
			}
			return err
		}
		return oc.run(cmd.OutOrStdout(), operands)
	}
	c.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return complete(newCmd(), args, toComplete)
	}
	return c
}

// declared stands for an option in cobra's flag set, which only shows it:
// getopt parses it.
type declared struct{ arg string }

// String is the flag's value as cobra reads it: it asks the help flag's,
// which must be a bool.
func (d declared) String() string {
	if d.arg == "" {
		return "false"
	}
	return ""
}

func (d declared) Set(string) error { return errors.New("options are parsed by getopt") }

// Type names the argument in the usage ("bool" shows none).
func (d declared) Type() string {
	if d.arg == "" {
		return "bool"
	}
	return d.arg
}

func declare(fs *pflag.FlagSet, opts []getopt.Option) {
	for _, o := range opts {
		short := ""
		if o.Short != 0 {
			short = string(o.Short)
		}
		f := fs.VarPF(declared{o.Arg}, o.Long, short, o.Help)
		if o.Arg == "" {
			f.NoOptDefVal = "true"
		}
	}
}

// complete completes the word toComplete after args for oc: the argument
// of an option (pending, or attached as -fq or --format=q), or else a
// file name. Option names themselves cobra completes from the declared
// flags.
func complete(oc optionCommand, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	opts := append(oc.options(), helpOption())
	o, err := getopt.Pending(args, opts)
	if err != nil {
		return nil, cobra.ShellCompDirectiveDefault
	}
	prefix := ""
	switch {
	case o != nil:
	case strings.HasPrefix(toComplete, "--") && strings.Contains(toComplete, "="):
		name, val, _ := strings.Cut(toComplete, "=")
		if o, _ = getopt.Pending(append(args, name), opts); o == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		prefix, toComplete = name+"=", val
	case strings.HasPrefix(toComplete, "-") && !strings.HasPrefix(toComplete, "--"):
		for j := 2; j <= len(toComplete) && o == nil; j++ {
			if o, _ = getopt.Pending(append(args, toComplete[:j]), opts); o != nil {
				prefix, toComplete = toComplete[:j], toComplete[j:]
			}
		}
		if o == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
	case strings.HasPrefix(toComplete, "-"):
		return nil, cobra.ShellCompDirectiveNoFileComp
	default:
		return nil, cobra.ShellCompDirectiveDefault
	}
	vc, ok := oc.(valueCompleter)
	if !ok {
		return nil, cobra.ShellCompDirectiveDefault
	}
	words, dir := vc.completeValue(o, toComplete)
	var out []string
	for _, w := range words {
		out = append(out, prefix+w)
	}
	return out, dir
}

// oneOf completes prefix to the words it begins.
func oneOf(prefix string, words ...string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, prefix) {
			out = append(out, w)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
