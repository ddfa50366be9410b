// Package fleet reads the running natsrpc services: who answers NATS micro
// discovery ($SRV.PING, INFO and STATS), what schema each instance was
// built from ($SRV.SCHEMA, docs/wire.md §14), and, joined with the schema
// registry, which registry version each instance's schema is (`natsrpc
// status`).
package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsrpc/natsrpc"
)

// Gather bounds how long a discovery request collects answers.
type Gather struct {
	// Quiet ends the collection once no answer arrived for this long after
	// the last one (or the first request was sent). Default 250 ms.
	Quiet time.Duration
	// Max ends it anyway. Default 3 s.
	Max time.Duration
}

func (g Gather) quiet() time.Duration {
	if g.Quiet <= 0 {
		return 250 * time.Millisecond
	}
	return g.Quiet
}

func (g Gather) max() time.Duration {
	if g.Max <= 0 {
		return 3 * time.Second
	}
	return g.Max
}

// Collect publishes a request on subject and returns every answer that
// arrives before the collection ends (see [Gather]); none, at once, when
// nothing listens on subject (NATS no responders).
func (g Gather) Collect(ctx context.Context, nc *nats.Conn, subject string) ([]*nats.Msg, error) {
	inbox := nc.NewInbox()
	ch := make(chan *nats.Msg, 256)
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, fmt.Errorf("subscribe to %q: %w", inbox, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(subject, inbox, nil); err != nil {
		return nil, fmt.Errorf("publish %q: %w", subject, err)
	}
	deadline := time.NewTimer(g.max())
	defer deadline.Stop()
	quiet := time.NewTimer(g.quiet())
	defer quiet.Stop()
	var out []*nats.Msg
	for {
		select {
		case m := <-ch:
			if m.Header.Get("Status") == "503" {
				return out, nil // no responders: nobody listens
			}
			out = append(out, m)
			quiet.Reset(g.quiet())
		case <-quiet.C:
			return out, nil
		case <-deadline.C:
			return out, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Instance is one running service instance as discovery shows it.
type Instance struct {
	// Info is its $SRV.INFO answer.
	Info micro.Info
	// Stats is its $SRV.STATS answer; nil when it did not answer STATS.
	Stats *micro.Stats
}

// ID returns the instance's id.
func (i *Instance) ID() string { return i.Info.ID }

// Name returns the micro service name.
func (i *Instance) Name() string { return i.Info.Name }

// Service returns the proto full name the instance serves (its
// proto.service metadata), or "" for a micro service that is not natsrpc's.
func (i *Instance) Service() string { return i.Info.Metadata["proto.service"] }

// FileDigest returns the digest of the service's file the instance
// advertises (wire 0.3), "" when it advertises none.
func (i *Instance) FileDigest() string { return i.Info.Metadata[natsrpc.MetadataFileDigest] }

// File returns the path of the service's file the instance advertises.
func (i *Instance) File() string { return i.Info.Metadata[natsrpc.MetadataFile] }

// Requests and Errors sum the instance's endpoints' counts.
func (i *Instance) Requests() (requests, errs int) {
	if i.Stats == nil {
		return 0, 0
	}
	for _, ep := range i.Stats.Endpoints {
		requests += ep.NumRequests
		errs += ep.NumErrors
	}
	return requests, errs
}

// Discover returns the instances that answer $SRV.INFO (of every service,
// or of the micro service name when not empty), with their $SRV.STATS,
// sorted by name and id. Answers that do not decode are skipped.
func (g Gather) Discover(ctx context.Context, nc *nats.Conn, name string) ([]*Instance, error) {
	return g.discover(ctx, nc, name, true)
}

// Infos is [Gather.Discover] without $SRV.STATS: the instances and their
// endpoints alone.
func (g Gather) Infos(ctx context.Context, nc *nats.Conn, name string) ([]*Instance, error) {
	return g.discover(ctx, nc, name, false)
}

func (g Gather) discover(ctx context.Context, nc *nats.Conn, name string, withStats bool) ([]*Instance, error) {
	suffix := ""
	if name != "" {
		suffix = "." + name
	}
	infos, err := g.Collect(ctx, nc, micro.APIPrefix+".INFO"+suffix)
	if err != nil {
		return nil, err
	}
	byID := map[string]*Instance{}
	for _, m := range infos {
		var info micro.Info
		if json.Unmarshal(m.Data, &info) != nil || info.ID == "" {
			continue
		}
		byID[info.ID] = &Instance{Info: info}
	}
	if len(byID) > 0 && withStats {
		stats, err := g.Collect(ctx, nc, micro.APIPrefix+".STATS"+suffix)
		if err != nil {
			return nil, err
		}
		for _, m := range stats {
			var st micro.Stats
			if json.Unmarshal(m.Data, &st) != nil {
				continue
			}
			if in := byID[st.ID]; in != nil {
				in.Stats = &st
			}
		}
	}
	out := make([]*Instance, 0, len(byID))
	for _, in := range byID {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b *Instance) int {
		if c := strings.Compare(a.Name(), b.Name()); c != 0 {
			return c
		}
		return strings.Compare(a.ID(), b.ID())
	})
	return out, nil
}

// SchemaError says that no instance answered a schema request, or that one
// answered with an error.
type SchemaError struct {
	// Subject is the subject asked.
	Subject string
	// Err is what happened.
	Err error
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("%s: %v", e.Subject, e.Err)
}

func (e *SchemaError) Unwrap() error { return e.Err }

// Schema asks for a service's schema on $SRV.SCHEMA.<name> (the first
// instance to answer) or, with id, $SRV.SCHEMA.<name>.<id>, and waits up
// to timeout.
func Schema(ctx context.Context, nc *nats.Conn, name, id string, timeout time.Duration) (*natsrpc.SchemaResponse, error) {
	subject := micro.APIPrefix + "." + natsrpc.SchemaVerb + "." + name
	if id != "" {
		subject += "." + id
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, subject, nil)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, &SchemaError{Subject: subject, Err: fmt.Errorf("no instance of %q is running (no responders)", name)}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil, &SchemaError{Subject: subject, Err: fmt.Errorf("no instance of %q answered within %s; its instances may run a natsrpc runtime older than 0.3 (or the TypeScript runtime), which do not answer for their schema", name, timeout)}
	case err != nil:
		return nil, &SchemaError{Subject: subject, Err: err}
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		return nil, &SchemaError{Subject: subject, Err: fmt.Errorf("the instance answered error %s: %s", code, msg.Header.Get(micro.ErrorHeader))}
	}
	var res natsrpc.SchemaResponse
	if err := json.Unmarshal(msg.Data, &res); err != nil {
		return nil, &SchemaError{Subject: subject, Err: fmt.Errorf("the answer is not a schema response: %w", err)}
	}
	if res.Type != natsrpc.SchemaResponseType {
		return nil, &SchemaError{Subject: subject, Err: fmt.Errorf("the answer has type %q; want %q", res.Type, natsrpc.SchemaResponseType)}
	}
	return &res, nil
}
