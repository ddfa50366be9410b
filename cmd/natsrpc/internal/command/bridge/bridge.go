// Package bridge implements `natsrpc bridge`: flags only, the bridge
// itself is github.com/natsrpc/natsrpc/gateway/bridge.
package bridge

import (
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	br "github.com/natsrpc/natsrpc/gateway/bridge"
)

type flags struct {
	Service        string
	HTTP           string
	HTTPRules      string
	DescriptorSet  string
	Bucket         string
	SubjectPrefix  string
	Strict         bool
	JSONNames      bool
	EmitDefaults   bool
	MaxInFlight    int
	MaxTimeout     time.Duration
	ForwardHeaders []string
	ShadowPrefix   string
	ShadowRate     float64
	ShadowTimeout  time.Duration
	DrainTimeout   time.Duration
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.Service, "service", "", "The service to bridge, by full name (e.g. gaming.quest_system.v1.QuestSystemService)")
	fs.StringVar(&f.HTTP, "http", "", "The HTTP/JSON service's base URL (http://HOST:PORT[/PREFIX])")
	fs.StringVar(&f.HTTPRules, "http-rules", "", "HTTP routes for methods without google.api.http annotations, status overrides and shadow policies: a rules file (Google's service-config format with natsrpc's extension)")
	fs.StringVar(&f.DescriptorSet, "descriptor-set", "", "Take the service from this FileDescriptorSet or buf image instead of the registry")
	fs.StringVar(&f.Bucket, "bucket", "", "The registry's JetStream KV bucket (default natsrpc_registry)")
	fs.StringVar(&f.SubjectPrefix, "subject-prefix", "", "Serve under this runtime subject prefix (natsrpc.WithSubjectPrefix)")
	fs.BoolVar(&f.Strict, "strict", false, "Refuse answers with JSON fields the response message does not have (internal) instead of ignoring them")
	fs.BoolVar(&f.JSONNames, "json-names", false, "Send lowerCamelCase JSON names instead of the proto field names (snake_case, what FastAPI expects); answers are read with either")
	fs.BoolVar(&f.EmitDefaults, "emit-defaults", false, "Send every field, zero values and null messages included, for services that want every key present")
	fs.IntVar(&f.MaxInFlight, "max-in-flight", br.DefaultMaxInFlight, "HTTP calls in progress at most; as many more wait, and calls beyond are answered resource_exhausted")
	fs.DurationVar(&f.MaxTimeout, "max-timeout", 0, "The longest deadline of a call (default the runtime's, 2m)")
	fs.StringArrayVar(&f.ForwardHeaders, "forward-header", nil, "Also pass this call metadata to the HTTP service and back (repeatable; a trailing * forwards a prefix, e.g. X-Game-*); traceparent, tracestate, baggage, X-Request-Id and X-Correlation-Id always pass")
	fs.StringVar(&f.ShadowPrefix, "shadow-prefix", "", "Mirror calls to the candidate serving under this subject prefix, after answering, and compare the answers (natsrpc shadow report)")
	fs.Float64Var(&f.ShadowRate, "shadow-rate", 0, "The share of the NO_SIDE_EFFECTS methods' calls mirrored, 0 to 1 (the rules file's natsrpc.shadow entries set per-method rates)")
	fs.DurationVar(&f.ShadowTimeout, "shadow-timeout", 0, "How long the candidate may take before a mirrored call is dropped and counted as slow (default 1s)")
	fs.DurationVar(&f.DrainTimeout, "drain-timeout", 30*time.Second, "On SIGTERM or SIGINT, how long calls in progress may take to finish")
}

// NewCommand returns the `bridge` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name,
		Short: "Serve a service's NATS subjects by calling its existing HTTP/JSON service",
		Long: `Serve a service's NATS subjects (queue group, $SRV discovery, the wire
contract of generated handlers) by calling the HTTP/JSON service it still
runs as, so that NATS callers reach it before it moves. Each method's HTTP
request comes from its google.api.http annotation, else from --http-rules,
else is POST BASE/<pkg.Service>/<Method> with the request as JSON. With
--shadow-prefix it mirrors calls to the replacement and compares answers.

    natsrpc bridge --service gaming.quest_system.v1.QuestSystemService --http http://127.0.0.1:8000 --http-rules quests.yaml
    natsrpc bridge --service gaming.quest_system.v1.QuestSystemService --http http://quests:8000 --shadow-prefix next --shadow-rate 0.1`,
		Args: cli.ExactArgs(0, "no arguments (the flags say what to bridge)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return br.Run(cmd.Context(), br.RunConfig{
				Service:        f.Service,
				HTTP:           f.HTTP,
				HTTPRules:      f.HTTPRules,
				DescriptorSet:  f.DescriptorSet,
				Bucket:         f.Bucket,
				Connect:        g.Connect,
				SubjectPrefix:  f.SubjectPrefix,
				Strict:         f.Strict,
				JSONNames:      f.JSONNames,
				EmitDefaults:   f.EmitDefaults,
				MaxInFlight:    f.MaxInFlight,
				ForwardHeaders: f.ForwardHeaders,
				MaxTimeout:     f.MaxTimeout,
				ShadowPrefix:   f.ShadowPrefix,
				ShadowRate:     f.ShadowRate,
				ShadowTimeout:  f.ShadowTimeout,
				DrainTimeout:   f.DrainTimeout,
				Out:            cmd.OutOrStdout(),
				Log:            slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)),
			})
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}
