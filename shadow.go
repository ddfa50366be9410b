package natsrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc/internal/protodiff"
	"github.com/natsrpc/natsrpc/internal/spec"
)

// ShadowHeader marks a mirrored call (value "1"), so that a candidate can
// tell shadow traffic from real traffic (and skip side effects it cannot
// undo), and so that a candidate that shadows in turn never mirrors it
// again.
const ShadowHeader = "Natsrpc-Shadow"

// Defaults of a [ShadowPolicy].
const (
	DefaultShadowTimeout     = time.Second
	DefaultShadowMaxInFlight = 64
)

// ShadowPolicy says which calls a service mirrors to a candidate, and how
// it compares the answers; see [WithShadow].
type ShadowPolicy struct {
	// Prefix is the subject prefix the candidate serves under (its
	// [WithSubjectPrefix]): a call on subject S is mirrored to
	// Prefix.S. Required.
	Prefix string
	// Rate is the share of calls mirrored, 0 to 1, for the methods whose
	// idempotency_level is NO_SIDE_EFFECTS and that Methods does not
	// list. Other methods are mirrored only when Methods lists them.
	Rate float64
	// Methods sets the policy of methods by name (e.g. "GetQuest"),
	// whatever their idempotency level: listing a method that may have
	// side effects is how it is mirrored at all (the candidate then runs
	// it too: make sure that is harmless, e.g. against a copy of the
	// data). A method listed with Rate 0 is not mirrored.
	Methods map[string]ShadowMethod
	// Timeout bounds the candidate's answer (default
	// [DefaultShadowTimeout]); a slower candidate is given up and counted
	// as slow.
	Timeout time.Duration
	// MaxInFlight bounds the candidate calls in progress across the
	// service's methods (default [DefaultShadowMaxInFlight]); a call
	// picked beyond it is dropped and counted, never queued.
	MaxInFlight int
	// Recorder, when set, receives every pair of answers that differ.
	Recorder ShadowRecorder
}

// ShadowMethod is one method's shadow policy.
type ShadowMethod struct {
	// Rate is the share of the method's calls mirrored, 0 to 1.
	Rate float64
	// Ignore lists fields of the response left out of the comparison:
	// dotted proto field names, e.g. "quest.created_at"; a path through a
	// repeated or map field applies to every element.
	Ignore []string
	// Unordered lists repeated fields of the response compared as
	// multisets (the same elements in any order). Maps always compare by
	// key.
	Unordered []string
}

// ShadowRecorder receives the pairs of answers that differ, e.g. to store
// them (contrib/shadowjs keeps them in a JetStream stream). It is called
// on the shadow's goroutine, one pair at a time per candidate call in
// flight: it must not block for long, and must not keep d's messages
// beyond the call unless it copies them.
type ShadowRecorder interface {
	RecordShadow(d *ShadowDifference)
}

// ShadowDifference is one pair of answers that differ.
type ShadowDifference struct {
	// Spec is the primary's method (Spec.Subject its subject); Service is
	// the service's micro name (e.g. "gaming_quest_system_v1_QuestSystemService").
	Spec    Spec
	Service string
	// Time is when the primary's answer was sent.
	Time time.Time
	// TraceParent is the call's W3C traceparent header, if any.
	TraceParent string
	// Request is the call's request; Primary and Candidate the answers
	// (nil for an error, which is then in PrimaryError or CandidateError).
	Request                          proto.Message
	Primary, Candidate               proto.Message
	PrimaryError, CandidateError     *Error
	PrimaryLatency, CandidateLatency time.Duration
	// Paths are the differing field paths of the responses (see
	// [ShadowStats.LastDifference]); empty when the outcomes differ.
	Paths []string
}

// WithShadow mirrors a sample of a service's unary calls to a candidate
// implementation, after the primary (this service) has answered, and
// compares the two answers as protobuf messages, for a replacement to
// prove it answers like the service it replaces before it takes real
// traffic. The primary's answer is published first and never changes;
// the mirror runs on a goroutine of its own, bounded by
// [ShadowPolicy.MaxInFlight] and [ShadowPolicy.Timeout] and dropped and
// counted beyond them, so the primary's callers only pay for the sample's
// coin toss, a copy of the response for the calls picked, and the CPU the
// mirror spends elsewhere.
//
// The candidate is any service answering the method on the prefixed
// subject: a natsrpc service started with [WithSubjectPrefix], the same
// binary or another language. It gets the request's metadata and
// [ShadowHeader]. Counts and latencies per method are in $SRV.STATS (the
// endpoint data's "shadow") and [Service.ShadowStats]; the differing
// pairs go to [ShadowPolicy.Recorder]. Mirroring by the service that
// answers, rather than by a second subscriber on the subject, keeps
// NATS's no-responders answer and the queue group's load sharing intact.
//
// An invalid policy (prefix, rates, a method the service lacks or that is
// not unary, a comparison path the response lacks) fails [NewService].
func WithShadow(p ShadowPolicy) HandlerOption {
	return shadowOption{p: p}
}

type shadowOption struct{ p ShadowPolicy }

func (o shadowOption) applyToHandler(c *handlerConfig) {
	p := o.p
	var errs []error
	if p.Prefix == "" {
		errs = append(errs, errors.New("the candidate's subject prefix is empty"))
	} else if err := spec.ValidateSubject(p.Prefix); err != nil {
		errs = append(errs, fmt.Errorf("prefix %q: %w", p.Prefix, err))
	}
	if !(p.Rate >= 0 && p.Rate <= 1) {
		errs = append(errs, fmt.Errorf("rate %g must be between 0 and 1", p.Rate))
	}
	for _, name := range slices.Sorted(maps.Keys(p.Methods)) {
		if r := p.Methods[name].Rate; !(r >= 0 && r <= 1) {
			errs = append(errs, fmt.Errorf("method %q: rate %g must be between 0 and 1", name, r))
		}
	}
	if p.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s must not be negative", p.Timeout))
	}
	if p.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("max in flight %d must not be negative", p.MaxInFlight))
	}
	if err := errors.Join(errs...); err != nil {
		c.fail(fmt.Errorf("shadow policy: %w", err))
		return
	}
	c.shadow = &p
}

// shadow is a service's mirror: the policy and the bound on candidate
// calls.
type shadow struct {
	policy  ShadowPolicy
	timeout time.Duration
	sem     chan struct{}
	base    context.Context
	service string
}

// shadowMethod mirrors one endpoint.
type shadowMethod struct {
	sh     *shadow
	ep     *endpoint
	rate   float64
	client *DynamicClient
	cmp    *protodiff.Comparer
	stats  shadowCounters
}

// bindShadow sets up the mirror of each endpoint the policy picks.
func (s *Service) bindShadow() error {
	p := s.cfg.shadow
	if p == nil {
		return nil
	}
	sh := &shadow{
		policy:  *p,
		timeout: p.Timeout,
		sem:     make(chan struct{}, cmpOr(p.MaxInFlight, DefaultShadowMaxInFlight)),
		base:    s.baseCtx,
		service: s.spec.MicroName,
	}
	if sh.timeout == 0 {
		sh.timeout = DefaultShadowTimeout
	}
	var errs []error
	byName := map[string]*spec.Method{}
	for _, m := range s.spec.Methods {
		byName[m.Name] = m
	}
	for _, name := range slices.Sorted(maps.Keys(p.Methods)) {
		m, ok := byName[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("method %q is not a method of the service", name))
		case m.Kind != spec.KindUnary:
			errs = append(errs, fmt.Errorf("method %q is %s: only unary methods are mirrored", name, m.Kind))
		}
	}
	for _, ep := range s.endpoints {
		if ep.spec.Kind != MethodKindUnary {
			continue
		}
		mp, listed := p.Methods[ep.name]
		rate := mp.Rate
		if !listed {
			if ep.method.Idempotency != descriptorpb.MethodOptions_NO_SIDE_EFFECTS {
				continue
			}
			rate = p.Rate
		}
		if rate == 0 {
			continue
		}
		cmp, err := protodiff.New(ep.method.Desc.Output(), protodiff.Options{Ignore: mp.Ignore, Unordered: mp.Unordered})
		if err != nil {
			errs = append(errs, fmt.Errorf("method %q: %w", ep.name, err))
			continue
		}
		prefix := p.Prefix
		if s.cfg.prefix != "" {
			prefix += "." + s.cfg.prefix
		}
		ep.shadow = &shadowMethod{
			sh:     sh,
			ep:     ep,
			rate:   rate,
			cmp:    cmp,
			client: NewDynamicClient(s.nc, ep.method.Desc, WithSubjectPrefix(prefix), WithRetry(RetryPolicy{MaxAttempts: 1})),
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shadow policy: %w", err)
	}
	return nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// mirror is called on the worker once the primary's answer is sent: res is
// the response in codec c (nil after an error e), took the handler's
// time. It returns true when it keeps res (the caller must not reuse its
// buffer).
func (sm *shadowMethod) mirror(msg *nats.Msg, req []byte, c codec, res []byte, e *Error, took time.Duration) bool {
	if sm.rate < 1 && rand.Float64() >= sm.rate {
		return false
	}
	if msg.Header.Get(ShadowHeader) != "" {
		return false // a mirrored call is never mirrored again
	}
	select {
	case sm.sh.sem <- struct{}{}:
	default:
		sm.stats.dropped.Add(1)
		return false
	}
	go sm.run(msg, req, c, res, e, took, time.Now())
	return true
}

// run calls the candidate and compares.
func (sm *shadowMethod) run(msg *nats.Msg, req []byte, c codec, res []byte, pe *Error, took time.Duration, answered time.Time) {
	defer func() { <-sm.sh.sem }()
	md := sm.ep.method.Desc
	if c == codecJSON {
		r := &rawMessage{desc: md.Input()}
		if err := r.unmarshal(req, codecJSON); err != nil {
			sm.stats.dropped.Add(1)
			return
		}
		req = r.data
	}
	hdr := nats.Header{ShadowHeader: {"1"}}
	for k, vs := range msg.Header {
		if !isReservedHeader(k) && validHeaderKey(k) && k != ShadowHeader {
			hdr[k] = vs
		}
	}
	ctx, cancel := context.WithTimeout(sm.sh.base, sm.sh.timeout)
	start := time.Now()
	cres, err := sm.client.CallUnaryBytes(ctx, req, WithHeaders(hdr))
	ctook := time.Since(start)
	cancel()
	sm.stats.mirrored.Add(1)
	var ce *Error
	if err != nil {
		ce = asError(err)
		if !IsWireError(ce) && (ce.Code() == CodeDeadlineExceeded || ce.Code() == CodeCanceled) {
			if sm.sh.base.Err() != nil {
				sm.stats.dropped.Add(1) // the service is stopping
			} else {
				sm.stats.slow.Add(1)
			}
			return
		}
	}
	if pe == nil && ce == nil && c == codecProto && bytes.Equal(res, cres) {
		// The same bytes are the same message: no need to decode.
		sm.stats.primary.add(took)
		sm.stats.candidate.add(ctook)
		sm.stats.equal.Add(1)
		return
	}
	var pm, cm proto.Message
	if pe == nil {
		pm = dynamicpb.NewMessage(md.Output())
		if err := c.unmarshal(res, pm); err != nil {
			sm.stats.dropped.Add(1) // cannot happen: the runtime encoded it
			return
		}
	}
	if ce == nil {
		cm = dynamicpb.NewMessage(md.Output())
		if err := protoUnmarshal.Unmarshal(cres, cm); err != nil {
			ce = NewError(CodeInternal, fmt.Errorf("candidate's answer is not a valid %q: %w", md.Output().FullName(), err))
		}
	}
	var (
		paths []string
		equal bool
	)
	switch {
	case pe == nil && ce != nil:
		sm.stats.candidateErrors.Add(1)
		sm.stats.mu.Lock()
		sm.stats.lastCandidateError = ce.Error()
		sm.stats.mu.Unlock()
		return
	case pe == nil:
		paths = sm.cmp.Diff(pm.ProtoReflect(), cm.ProtoReflect())
		equal = len(paths) == 0
	case ce != nil:
		equal = pe.Code() == ce.Code()
	}
	sm.stats.primary.add(took)
	sm.stats.candidate.add(ctook)
	if equal {
		sm.stats.equal.Add(1)
		return
	}
	sm.stats.different.Add(1)
	sm.stats.mu.Lock()
	sm.stats.lastDifference = paths
	sm.stats.mu.Unlock()
	if rec := sm.sh.policy.Recorder; rec != nil {
		rm := dynamicpb.NewMessage(md.Input())
		_ = protoUnmarshal.Unmarshal(req, rm)
		rec.RecordShadow(&ShadowDifference{
			Spec:             sm.ep.spec,
			Service:          sm.sh.service,
			Time:             answered.UTC(),
			TraceParent:      msg.Header.Get("traceparent"),
			Request:          rm,
			Primary:          pm,
			Candidate:        cm,
			PrimaryError:     pe,
			CandidateError:   ce,
			PrimaryLatency:   took,
			CandidateLatency: ctook,
			Paths:            paths,
		})
	}
}

// ShadowStats returns the shadow traffic counts of every mirrored method,
// by method name; nil without [WithShadow].
func (s *Service) ShadowStats() map[string]ShadowStats {
	var out map[string]ShadowStats
	for _, ep := range s.endpoints {
		if ep.shadow == nil {
			continue
		}
		if out == nil {
			out = map[string]ShadowStats{}
		}
		out[ep.name] = ep.shadow.stats.snapshot(ep.shadow.rate)
	}
	return out
}
