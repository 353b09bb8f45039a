package cli

import (
	"github.com/spf13/cobra"
)

// NewCmdUI builds `homeport ui`.
func NewCmdUI(f *Factory, runF func(noOpen bool) error) *cobra.Command {
	var noOpen bool
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Open the dashboard of the running daemon, with a fresh login",
		Long: `Print the dashboard's address with a fresh one-time login code, and open it in
the browser on a desktop (--no-open skips that). The daemon must run: start it
with 'homeport up'.`,
		Example: `  homeport ui
  homeport ui --no-open`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(noOpen)
			}
			return openLogin(cmd.Context(), f.IO, noOpen)
		},
	}
	cmd.Flags().BoolVar(&noOpen, "no-open", false, "print the address only")
	return cmd
}
