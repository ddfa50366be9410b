// Package cli holds what every natsrpc command shares: the root command,
// exit codes and error printing.
package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/natsrpc/natsrpc"
)

// Exit codes shared by every command.
const (
	// ExitOK means success.
	ExitOK = 0
	// ExitError means anything other than a policy refusal: bad flags,
	// unreadable input, an unreachable server.
	ExitError = 1
	// ExitRefused means the command ran and refused the input for a policy
	// reason, such as breaking changes (buf uses the same code).
	ExitRefused = 100
)

// ExitCodeError is returned by a command to exit with a specific code. When
// Err is nil nothing more is printed (the command printed its findings
// itself).
type ExitCodeError struct {
	Code int
	Err  error
}

// Error returns Err's message, or the exit code when Err is nil.
func (e *ExitCodeError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *ExitCodeError) Unwrap() error { return e.Err }

// NewRoot returns the root command with the given sub-commands.
func NewRoot(name string, subs ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:           name,
		Short:         "Protobuf services over NATS: schema registry, breaking-change gate, tools",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       VersionText(),
	}
	root.SetVersionTemplate("{{.Version}}")
	// cobra adds `completion bash|zsh|fish|powershell`, which prints the
	// shell's completion script.
	root.AddCommand(subs...)
	return root
}

// Group returns a command that only groups sub-commands.
func Group(name, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}

// Execute runs root and returns the process exit code. Errors are printed as
// one line on root's stderr (os.Stderr unless set), prefixed with the
// command name.
func Execute(ctx context.Context, root *cobra.Command) int {
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	stderr := root.ErrOrStderr()
	var exitErr *ExitCodeError
	if errors.As(err, &exitErr) {
		if exitErr.Err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", root.Name(), oneLine(Message(exitErr.Err)))
		}
		return exitErr.Code
	}
	fmt.Fprintf(stderr, "%s: %s\n", root.Name(), oneLine(Message(err)))
	return ExitError
}

// Message returns err's text for people: the wire error codes of the
// registry's answers ("not_found: ", "invalid_argument: ") are left out,
// wherever in the chain of wrapped errors they are, because the message
// after them says what is wrong and the exit code says what kind of
// failure it is.
func Message(err error) string {
	msg := err.Error()
	var walk func(error)
	walk = func(e error) {
		for e != nil {
			if ne, ok := e.(*natsrpc.Error); ok {
				if m := ne.Message(); m != "" {
					msg = strings.Replace(msg, ne.Error(), m, 1)
				}
			}
			switch u := e.(type) {
			case interface{ Unwrap() []error }:
				for _, inner := range u.Unwrap() {
					walk(inner)
				}
				return
			case interface{ Unwrap() error }:
				e = u.Unwrap()
			default:
				return
			}
		}
	}
	walk(err)
	return msg
}

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// Refused returns the error of a command that refused its input for a
// policy reason: exit code 100, err printed as the one-line message.
func Refused(err error) error {
	return &ExitCodeError{Code: ExitRefused, Err: err}
}

// ExactArgs returns an argument check for a command that takes exactly n
// arguments, described by what ("one symbol"). Its error says what to run
// (`describe takes one symbol: natsrpc describe <symbol> ...`) instead of
// cobra's "accepts 1 arg(s), received 0".
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return argsBetween(n, n, what)
}

// MaxArgs returns an argument check for a command that takes at most n
// arguments, described by what ("at most one module name").
func MaxArgs(n int, what string) cobra.PositionalArgs {
	return argsBetween(0, n, what)
}

func argsBetween(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return fmt.Errorf("%s takes %s: %s", cmd.Name(), what, strings.TrimSuffix(cmd.UseLine(), " [flags]"))
	}
}
