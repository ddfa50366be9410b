// Package tap is `natsrpc tap`: live, decoded traffic of natsrpc services,
// one line per request, reply, stream message, event and error.
//
// Tap watches without taking part: it never answers, never joins a queue
// group and never slows what it watches (every subscription delivers into
// one bounded buffer, and what does not fit is dropped and counted). It
// must not break NATS's "no responders" either: a plain subscription on a
// method's subject counts as a responder, so a caller of a service with no
// instance would wait for its deadline instead of failing at once with
// unavailable. So tap follows $SRV discovery and subscribes only to the
// subjects of endpoints that live instances list, re-checking every
// Refresh, and leaves a subject once leaveAfter rounds in a row find no
// instance serving it (one round is not enough: an instance whose $SRV.INFO
// answer misses a round's wait on a busy machine would make tap stop
// watching a service that still runs). The README (natsrpc tap) says when
// no-responders cannot hold: from the moment the last instance of a service
// stops serving until those rounds have seen it gone.
package tap

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/fleet"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/schema"
)

// Options tune [Run].
type Options struct {
	// Subjects narrow what is watched: NATS subjects, wildcards allowed;
	// only the subjects of live endpoints that match one are subscribed.
	// Empty means every subject of every live service.
	Subjects []string
	// InboxPrefixes are where callers receive replies and stream frames
	// (nats.go's default "_INBOX"); tap subscribes to "<prefix>.>" for
	// each. Empty shows requests and events only.
	InboxPrefixes []string
	// Refresh is how often discovery is asked again. Default 1 s.
	Refresh time.Duration
	// Gather bounds each discovery round.
	Gather fleet.Gather
	// Buffer is how many messages wait to be printed; beyond it they are
	// dropped and counted. Default 8192.
	Buffer int
	// Out receives the lines; Compact prints JSON documents instead of
	// text.
	Out     io.Writer
	Compact bool
	// Notice receives what tap says about itself (services watched and
	// left, drops, permission errors), one line each.
	Notice func(string)
	// OwnPrefix is the inbox prefix of tap's own connection, whose
	// traffic (discovery, registry lookups) is not shown.
	OwnPrefix string
}

// Run watches until ctx ends. nc should be connected with an inbox prefix
// of its own (Options.OwnPrefix), so that tap's own traffic is not shown.
func Run(ctx context.Context, nc *nats.Conn, src schema.Source, opts Options) error {
	if opts.Refresh <= 0 {
		opts.Refresh = time.Second
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 8192
	}
	if opts.Notice == nil {
		opts.Notice = func(string) {}
	}
	t := &tapper{
		nc:      nc,
		src:     src,
		opts:    opts,
		msgs:    make(chan *nats.Msg, opts.Buffer),
		subs:    map[string]*watched{},
		methods: map[string]*method{},
		dec:     newDecoder(opts.Out, opts.Compact, opts.OwnPrefix),
	}
	for _, p := range opts.InboxPrefixes {
		sub, err := nc.ChanSubscribe(p+".>", t.msgs)
		if err != nil {
			return fmt.Errorf("subscribe to the reply inboxes %q: %w", p+".>", err)
		}
		t.inboxSubs = append(t.inboxSubs, sub)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { t.print(done) })
	defer func() {
		t.unsubscribeAll()
		close(done)
		wg.Wait()
		if n := t.dropped(); n > 0 {
			opts.Notice(fmt.Sprintf("dropped %d messages that did not fit the buffer (--buffer %d)", n, opts.Buffer))
		}
	}()
	tick := time.NewTicker(opts.Refresh)
	defer tick.Stop()
	lastDrops := 0
	for {
		if err := t.refresh(ctx); err != nil && ctx.Err() == nil {
			opts.Notice("discovery failed; keeping the subscriptions: " + err.Error())
		}
		if n := t.dropped(); n > lastDrops {
			opts.Notice(fmt.Sprintf("dropped %d messages so far: the output cannot keep up (--buffer %d)", n, opts.Buffer))
			lastDrops = n
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// method is what tap knows of a subject: the method it belongs to and
// how to decode its messages.
type method struct {
	subject string
	m       *schema.Method // nil when no descriptors were found
	err     error          // why m is nil
	name    string         // "pkg.Service/Method", from discovery when m is nil
	kind    string         // the endpoint's natsrpc.kind
}

// watched is a subscribed subject.
type watched struct {
	sub     *nats.Subscription
	m       *method
	service string
	misses  int // rounds in a row that found no instance serving it
}

// leaveAfter is how many discovery rounds in a row must find no instance
// serving a subject before tap unsubscribes from it.
const leaveAfter = 3

type tapper struct {
	nc   *nats.Conn
	src  schema.Source
	opts Options
	msgs chan *nats.Msg

	mu        sync.Mutex
	subs      map[string]*watched // by subject
	inboxSubs []*nats.Subscription
	methods   map[string]*method // resolved subjects, kept when unsubscribed
	services  map[string]int     // live instances by service, for notices
	gone      int                // drops of subscriptions since closed

	dec *decoder
}

// refresh asks discovery which endpoints live instances serve, subscribes
// to the new subjects and unsubscribes from those no instance serves now.
func (t *tapper) refresh(ctx context.Context) error {
	instances, err := t.opts.Gather.Infos(ctx, t.nc, "")
	if err != nil {
		return err
	}
	live := map[string]*method{}
	liveService := map[string]string{}
	services := map[string]int{}
	for _, in := range instances {
		service := in.Service()
		if service == "" {
			service = in.Name()
		}
		matched := false
		for _, ep := range in.Info.Endpoints {
			if ep.Subject == "" || !t.wanted(ep.Subject) {
				continue
			}
			matched = true
			if _, ok := live[ep.Subject]; ok {
				continue
			}
			m := t.methods[ep.Subject]
			if m == nil {
				m = &method{subject: ep.Subject, kind: ep.Metadata["natsrpc.kind"], name: strings.TrimPrefix(ep.Metadata["natsrpc.procedure"], "/")}
				if m.name == "" {
					m.name = service + "/" + ep.Name
				}
				m.m, m.err = t.src.Method(ctx, schema.MethodRef{Raw: ep.Subject, Subject: ep.Subject})
				if m.err != nil {
					t.opts.Notice(fmt.Sprintf("%s: no descriptors, bodies will show as base64: %v", ep.Subject, m.err))
				}
				t.methods[ep.Subject] = m
			}
			live[ep.Subject] = m
			liveService[ep.Subject] = service
		}
		if matched {
			services[service]++
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// Leave first: a subject no live instance serves must stop counting
	// as a responder as soon as possible, once leaveAfter rounds agree.
	for subject, w := range t.subs {
		if _, ok := live[subject]; ok {
			w.misses = 0
			continue
		}
		if w.misses++; w.misses < leaveAfter {
			if _, ok := services[w.service]; !ok {
				services[w.service] = t.services[w.service]
			}
			continue
		}
		t.gone += droppedOf(w.sub)
		_ = w.sub.Unsubscribe()
		delete(t.subs, subject)
	}
	for subject, m := range live {
		if _, ok := t.subs[subject]; ok {
			continue
		}
		sub, err := t.nc.ChanSubscribe(subject, t.msgs)
		if err != nil {
			t.opts.Notice(fmt.Sprintf("cannot subscribe to %q: %v", subject, err))
			continue
		}
		t.subs[subject] = &watched{sub: sub, m: m, service: liveService[subject]}
	}
	_ = t.nc.Flush()
	t.dec.setMethods(t.subs)
	// Notices, in a stable order.
	names := make([]string, 0, len(services)+len(t.services))
	for s := range services {
		names = append(names, s)
	}
	for s := range t.services {
		if _, ok := services[s]; !ok {
			names = append(names, s)
		}
	}
	sort.Strings(names)
	for _, s := range names {
		was, now := t.services[s], services[s]
		switch {
		case was == 0 && now > 0:
			t.opts.Notice(fmt.Sprintf("watching %s (%d instance(s))", s, now))
		case was > 0 && now == 0:
			t.opts.Notice(fmt.Sprintf("stopped watching %s: no instance answers $SRV.INFO", s))
		}
	}
	t.services = services
	return nil
}

// wanted reports whether subject matches one of the --subject filters.
func (t *tapper) wanted(subject string) bool {
	if len(t.opts.Subjects) == 0 {
		return true
	}
	return slices.ContainsFunc(t.opts.Subjects, func(f string) bool { return MatchSubject(f, subject) })
}

func (t *tapper) unsubscribeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for subject, w := range t.subs {
		t.gone += droppedOf(w.sub)
		_ = w.sub.Unsubscribe()
		delete(t.subs, subject)
	}
	for _, s := range t.inboxSubs {
		t.gone += droppedOf(s)
		_ = s.Unsubscribe()
	}
	t.inboxSubs = nil
}

// dropped counts the messages nats.go dropped because the buffer was
// full.
func (t *tapper) dropped() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.gone
	for _, w := range t.subs {
		n += droppedOf(w.sub)
	}
	for _, s := range t.inboxSubs {
		n += droppedOf(s)
	}
	return n
}

func droppedOf(s *nats.Subscription) int {
	n, err := s.Dropped()
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// print decodes and prints messages until done is closed.
func (t *tapper) print(done <-chan struct{}) {
	purge := time.NewTicker(10 * time.Second)
	defer purge.Stop()
	for {
		select {
		case m := <-t.msgs:
			t.dec.handle(m, time.Now())
		case now := <-purge.C:
			t.dec.purge(now)
		case <-done:
			return
		}
	}
}

// MatchSubject reports whether subject matches filter, a NATS subject
// that may hold the wildcards "*" (one token) and ">" (the rest, at least
// one token).
func MatchSubject(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return i == len(ft)-1 && len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}
