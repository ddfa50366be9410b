// Package tap implements `natsrpc tap`.
package tap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/fleet"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/tap"
)

type flags struct {
	InboxPrefixes []string
	NoReplies     bool
	Refresh       time.Duration
	Wait          time.Duration
	Buffer        int
	Schema        cli.SchemaFlags
	Output        cli.Output
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.InboxPrefixes, "inbox-prefix", []string{nats.InboxPrefix[:len(nats.InboxPrefix)-1]}, "Where callers receive replies and stream frames (their nats.go CustomInboxPrefix); tap subscribes to PREFIX.> (repeatable)")
	fs.BoolVar(&f.NoReplies, "no-replies", false, "Show requests and events only: do not subscribe to the inboxes")
	fs.DurationVar(&f.Refresh, "refresh", time.Second, "Ask $SRV discovery which services run this often: a subject is watched only while an instance serves it")
	fs.DurationVar(&f.Wait, "wait", 100*time.Millisecond, "Collect discovery answers until none arrived for this long")
	fs.IntVar(&f.Buffer, "buffer", 8192, "Messages waiting to be printed; beyond it they are dropped and counted, never slowing the traffic")
	f.Schema.Bind(fs)
	f.Output.Bind(fs)
}

// NewCommand returns the `tap` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " [<subject> ...]",
		Short: "Show live traffic of NATS services, decoded, one line per message",
		Long: `Show the requests, replies, stream messages, events and errors of the
running services as they travel, decoded with the registry's descriptors
(or --descriptor-set, --reflect), one line each: time, subject, method,
direction, latency, code and body as JSON (a body that cannot be decoded
shows as its length and base64, with the reason). With subjects (NATS
wildcards allowed), only matching subjects; by default every subject of
every service that has a running instance. Ctrl-C stops it.

tap never answers, never joins a queue group and never slows the traffic
(past --buffer it drops messages and counts them). It subscribes to a
service's subjects only while an instance of the service answers $SRV
discovery, so that a call to a service with no instance still fails at
once with unavailable; see the README for the one window in which that
does not hold, and the permissions tap needs.

    natsrpc tap
    natsrpc tap 'gaming.quest_system.v1.>' --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd, args, g, f)
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, subjects []string, g *cli.Globals, f *flags) error {
	if err := f.Output.Check(); err != nil {
		return err
	}
	if err := f.Schema.Check(); err != nil {
		return err
	}
	for _, s := range subjects {
		if s == "" || strings.ContainsAny(s, " \t\r\n") || strings.Contains(s, "..") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
			return fmt.Errorf("subject %q is not a NATS subject (tokens separated by dots, * and > as wildcards)", s)
		}
	}
	if f.Refresh <= 0 || f.Wait <= 0 || f.Buffer <= 0 {
		return errors.New("--refresh, --wait and --buffer must be positive")
	}
	var mu sync.Mutex
	stderr := cmd.ErrOrStderr()
	notice := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "natsrpc: tap: %s\n", s)
	}
	// Tap's own inboxes have a prefix of their own, so that its discovery
	// and registry lookups are told apart from the traffic it shows.
	own := strings.Replace(nats.NewInbox(), nats.InboxPrefix, nats.InboxPrefix+"tap_", 1)
	nc, err := g.ConnectWith(ctx, nats.CustomInboxPrefix(own), nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrSlowConsumer) {
			return // counted and reported as drops
		}
		subject := ""
		if sub != nil {
			subject = sub.Subject + ": "
		}
		notice(subject + err.Error())
	}))
	if err != nil {
		return err
	}
	defer nc.Close()
	src, err := f.Schema.Source(nc, g, stderr)
	if err != nil {
		return err
	}
	var prefixes []string
	if !f.NoReplies {
		for _, p := range f.InboxPrefixes {
			if p = strings.TrimSuffix(p, "."); p != "" {
				prefixes = append(prefixes, p)
			}
		}
	}
	return tap.Run(ctx, nc, src, tap.Options{
		Subjects:      subjects,
		InboxPrefixes: prefixes,
		Refresh:       f.Refresh,
		Gather:        fleet.Gather{Quiet: f.Wait},
		Buffer:        f.Buffer,
		Out:           &lockedWriter{w: cmd.OutOrStdout()},
		Compact:       f.Output.JSON(),
		Notice:        notice,
		OwnPrefix:     own,
	})
}

// lockedWriter serialises writes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
