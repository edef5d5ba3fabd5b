package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// completionCommand is `instar completion bash|zsh|fish`: the shells'
// scripts, which ask `instar __complete` for each completion.
func completionCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "completion",
		Short: "Print a shell completion script (bash, zsh or fish)",
		Long: `Print the script that makes the shell complete instar's command lines:
commands, options, format names after -f and -F, the chosen format's
option names and values after -o, and file names elsewhere.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("completion: missing shell (want bash, zsh or fish)")
			}
			return fmt.Errorf("completion: unknown shell %q (want bash, zsh or fish)", args[0])
		},
	}
	shells := []struct {
		name, how string
		gen       func(cmd *cobra.Command) error
	}{
		{"bash", "source <(instar completion bash)", func(cmd *cobra.Command) error {
			return cmd.Root().GenBashCompletionV2(cmd.OutOrStdout(), true)
		}},
		{"zsh", "instar completion zsh > \"${fpath[1]}/_instar\"", func(cmd *cobra.Command) error {
			return cmd.Root().GenZshCompletion(cmd.OutOrStdout())
		}},
		{"fish", "instar completion fish > ~/.config/fish/completions/instar.fish", func(cmd *cobra.Command) error {
			return cmd.Root().GenFishCompletion(cmd.OutOrStdout(), true)
		}},
	}
	for _, s := range shells {
		c.AddCommand(&cobra.Command{
			Use:                   s.name,
			Short:                 "Print the " + s.name + " completion script",
			Long:                  "Print the " + s.name + " completion script. To load it:\n\n  " + s.how,
			Args:                  cobra.NoArgs,
			DisableFlagsInUseLine: true,
			RunE:                  func(cmd *cobra.Command, _ []string) error { return s.gen(cmd) },
		})
	}
	return c
}
