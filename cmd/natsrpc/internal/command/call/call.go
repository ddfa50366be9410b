// Package call implements `natsrpc call`.
package call

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/rpcctl"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/schema"
)

type flags struct {
	Data         string
	Headers      []string
	Timeout      time.Duration
	EmitDefaults bool
	Schema       cli.SchemaFlags
	Output       cli.Output
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.StringVarP(&f.Data, "data", "d", "", "The request as JSON; @FILE reads a file, @- standard input; for client and bidi streams, one JSON object per message (default: one empty message, none for client and bidi streams)")
	fs.StringArrayVarP(&f.Headers, "header", "H", nil, "Send this metadata header, key:value (repeatable)")
	fs.DurationVar(&f.Timeout, "timeout", 0, "The call's deadline (a whole stream's); default: the method's timeout option, else 5s for unary calls, none for streams")
	fs.BoolVar(&f.EmitDefaults, "emit-defaults", false, "Print fields that have their zero value too")
	f.Schema.Bind(fs)
	f.Output.Bind(fs)
}

// NewCommand returns the `call` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " <method> [-d JSON|@FILE|@-] [-H key:value ...]",
		Short: "Call a method of a NATS service with JSON, whatever its kind",
		Long: `Call a method of any kind with a request given as JSON and print the
responses as JSON (protojson: lowerCamelCase names), like grpcurl. The
method is pkg.Service/Method, pkg.Service.Method or its NATS subject (a
runtime prefix included). Descriptors come from the registry (the latest
version of every module; --module pins one), a descriptor set file, or the
running instances (--reflect; also when no registry answers).

Server-stream messages print as they arrive; for client and bidi streams
-d holds one JSON object per message (read as they come with @-). An
event is published (a durable one once JetStream acknowledged it).

Exit codes: 0 success; 1 bad usage, input or connection; for a failed
call 64 + the error code's number (unavailable 78, unimplemented 76,
deadline_exceeded 68, ...), with the code, message and details on stderr.

    natsrpc call gaming.quest_system.v1.QuestSystemService/GetQuest -d '{"playerId": "p-1", "questId": "q-7"}'
    natsrpc template gaming.quest_system.v1.QuestSystemService/GenerateQuest > req.json
    natsrpc call gaming.quest_system.v1.QuestSystemService.GenerateQuest -d @req.json --timeout 30s
    natsrpc call staging.gaming.ai_integration.v1.AIIntegrationService.StreamGenerate -d @- --format json`,
		Args: cli.ExactArgs(1, "one method"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd, args[0], g, f)
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, method string, g *cli.Globals, f *flags) error {
	if err := f.Output.Check(); err != nil {
		return err
	}
	if err := f.Schema.Check(); err != nil {
		return err
	}
	ref, err := schema.ParseMethod(method)
	if err != nil {
		return err
	}
	headers := nats.Header{}
	for _, h := range f.Headers {
		k, v, err := rpcctl.ParseHeader(h)
		if err != nil {
			return err
		}
		headers.Add(k, v)
	}
	if f.Timeout < 0 {
		return fmt.Errorf("--timeout %s: give a positive duration, e.g. 10s", f.Timeout)
	}
	nc, err := g.Connect(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	src, err := f.Schema.Source(nc, g, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	m, err := src.Method(ctx, ref)
	if err != nil {
		return err
	}
	prefix := f.Schema.SubjectPrefix
	if m.Prefix != "" {
		if prefix != "" && prefix != m.Prefix {
			return fmt.Errorf("the subject %q carries the prefix %q, --subject-prefix says %q: give one of them", ref.Raw, m.Prefix, prefix)
		}
		prefix = m.Prefix
	}
	var data io.Reader
	if cmd.Flags().Changed("data") {
		r, closeData, err := rpcctl.OpenData(f.Data, cmd.InOrStdin())
		if err != nil {
			return err
		}
		defer closeData()
		data = r
	}
	out := &rpcctl.Printer{W: cmd.OutOrStdout(), Compact: f.Output.JSON(), EmitDefaults: f.EmitDefaults, Types: m.Types}
	err = rpcctl.Call(ctx, nc, m, data, rpcctl.CallOptions{Headers: headers, Timeout: f.Timeout, Prefix: prefix,
		// A publish NATS refuses fails at once, saying so.
		ClientOptions: []natsrpc.ClientOption{natsrpc.WithInterceptors(cli.RefusalInterceptor(nc))}}, out)
	var rpcErr *rpcctl.RPCError
	if errors.As(err, &rpcErr) {
		return &cli.ExitCodeError{Code: rpcErr.ExitCode(), Err: rpcErr}
	}
	return err
}
