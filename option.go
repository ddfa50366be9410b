package natsrpc

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// DefaultTimeout is the deadline a client gives a call whose context has
// none, when neither the schema (the method's timeout or the service's
// default_timeout option) nor [WithTimeout] sets one. nats.go's own
// request-with-context has no default and would wait forever.
const DefaultTimeout = 5 * time.Second

// DefaultMaxTimeout is the longest a handler may run unless
// [WithMaxTimeout] says otherwise: callers' longer deadlines are clamped to
// it. Two minutes is nats-server's default expiry for reply permissions
// (allow_responses), after which a reply could be refused anyway.
const DefaultMaxTimeout = 2 * time.Minute

// DefaultMaxPending is how many requests a service queues for a free worker
// before it rejects new ones with [CodeResourceExhausted].
const DefaultMaxPending = 1024

// DefaultConcurrency returns how many handlers a service runs at once by
// default: four per CPU and at least 64, so that 64 concurrent callers of
// one instance never wait in the queue behind each other.
func DefaultConcurrency() int {
	return max(64, 4*runtime.GOMAXPROCS(0))
}

// ClientOption configures a client built with [NewUnaryClient] (and the
// generated New...Client constructors).
type ClientOption interface {
	applyToClient(*clientConfig)
}

// HandlerOption configures a service built with [NewService] (and the
// generated Register...Handler functions).
type HandlerOption interface {
	applyToHandler(*handlerConfig)
}

// Option configures clients and handlers alike.
type Option interface {
	ClientOption
	HandlerOption
}

// CallOption configures one call.
type CallOption interface {
	applyToCall(*callConfig)
}

type clientConfig struct {
	prefix       string
	interceptors []Interceptor
	timeout      time.Duration
	json         bool
	retry        RetryPolicy
	stream       streamOverrides
	// compressMin is WithCompression's threshold; 0: off.
	compressMin int
	err         error
}

type handlerConfig struct {
	prefix            string
	interceptors      []Interceptor
	concurrency       int
	maxPending        int
	maxTimeout        time.Duration
	maxStreams        int
	maxStreamDuration time.Duration
	stream            streamOverrides
	methods           map[string]bool // nil: every method with a handler
	wildcards         map[string]bool // methods served on "<subject>.*"
	shadow            *ShadowPolicy   // WithShadow
	// compressMin is WithCompression's threshold; 0: off.
	compressMin int
	err         error
}

type callConfig struct {
	timeout        time.Duration
	header         nats.Header
	responseHeader *nats.Header
	stream         streamOverrides
	idempotencyKey string
	subjectToken   string
	err            error
}

// streamOverrides are the stream settings an option changed; zero fields
// keep the defaults (or the client's, for a call).
type streamOverrides struct {
	window      uint64
	windowBytes uint64
	heartbeat   time.Duration
	liveness    time.Duration
}

// apply returns s with the overrides.
func (o streamOverrides) apply(s streamSettings) streamSettings {
	if o.window > 0 {
		s.window = o.window
	}
	if o.windowBytes > 0 {
		s.windowBytes = o.windowBytes
	}
	if o.heartbeat > 0 {
		s.heartbeat = o.heartbeat
	}
	if o.liveness > 0 {
		s.liveness = o.liveness
	}
	return s
}

// merge layers o2 over o.
func (o streamOverrides) merge(o2 streamOverrides) streamOverrides {
	if o2.window > 0 {
		o.window, o.windowBytes = o2.window, o2.windowBytes
	}
	if o2.heartbeat > 0 {
		o.heartbeat, o.liveness = o2.heartbeat, o2.liveness
	}
	return o
}

func (c *clientConfig) fail(err error) {
	c.err = errors.Join(c.err, err)
}

func (c *handlerConfig) fail(err error) {
	c.err = errors.Join(c.err, err)
}

// WithSubjectPrefix prepends prefix and a dot to every subject, e.g.
// "staging" turns "gaming.quest_system.v1.QuestSystemService.GetQuest" into
// "staging.gaming.quest_system.v1.QuestSystemService.GetQuest". Give clients
// and handlers the same prefix to make them meet; different prefixes keep
// environments or tenants apart on one NATS system. The prefix is one or
// more literal NATS tokens: no wildcards, whitespace or leading "$".
func WithSubjectPrefix(prefix string) Option {
	return &prefixOption{prefix: prefix}
}

type prefixOption struct{ prefix string }

func (o *prefixOption) validate() error {
	if o.prefix == "" {
		return nil
	}
	if err := spec.ValidateSubject(o.prefix); err != nil {
		return fmt.Errorf("subject prefix %q: %w", o.prefix, err)
	}
	return nil
}

func (o *prefixOption) applyToClient(c *clientConfig) {
	if err := o.validate(); err != nil {
		c.fail(err)
		return
	}
	c.prefix = o.prefix
}

func (o *prefixOption) applyToHandler(c *handlerConfig) {
	if err := o.validate(); err != nil {
		c.fail(err)
		return
	}
	c.prefix = o.prefix
}

// WithInterceptors adds interceptors to clients or handlers. The first is
// the outermost; several WithInterceptors options append in order. See
// [Interceptor].
func WithInterceptors(interceptors ...Interceptor) Option {
	return &interceptorsOption{interceptors: interceptors}
}

type interceptorsOption struct{ interceptors []Interceptor }

func (o *interceptorsOption) applyToClient(c *clientConfig) {
	for _, i := range o.interceptors {
		if i != nil {
			c.interceptors = append(c.interceptors, i)
		}
	}
}

func (o *interceptorsOption) applyToHandler(c *handlerConfig) {
	for _, i := range o.interceptors {
		if i != nil {
			c.interceptors = append(c.interceptors, i)
		}
	}
}

// WithClientOptions composes several client options into one.
func WithClientOptions(opts ...ClientOption) ClientOption {
	return clientOptions(opts)
}

type clientOptions []ClientOption

func (o clientOptions) applyToClient(c *clientConfig) {
	for _, opt := range o {
		if opt != nil {
			opt.applyToClient(c)
		}
	}
}

// WithHandlerOptions composes several handler options into one.
func WithHandlerOptions(opts ...HandlerOption) HandlerOption {
	return handlerOptions(opts)
}

type handlerOptions []HandlerOption

func (o handlerOptions) applyToHandler(c *handlerConfig) {
	for _, opt := range o {
		if opt != nil {
			opt.applyToHandler(c)
		}
	}
}

// WithTimeout sets the client's deadline for calls whose context has none,
// for methods whose schema sets no timeout. The precedence, first match
// wins: [WithCallTimeout]; the context's deadline; the method's timeout
// option; the service's default_timeout option; WithTimeout;
// [DefaultTimeout]. The schema comes before WithTimeout because it is the
// method author's statement of how long the method needs (a 30 s generation
// must not be cut to a client-wide 2 s); override it per call.
func WithTimeout(d time.Duration) ClientOption {
	return timeoutOption(d)
}

type timeoutOption time.Duration

func (o timeoutOption) applyToClient(c *clientConfig) {
	if o <= 0 {
		c.fail(fmt.Errorf("timeout %s must be positive", time.Duration(o)))
		return
	}
	c.timeout = time.Duration(o)
}

// WithJSON makes the client send protojson (Content-Type: application/json)
// instead of binary protobuf; the handler answers in JSON. It is slower and
// larger on the wire, and meant for debugging and for tools.
func WithJSON() ClientOption {
	return jsonOption{}
}

type jsonOption struct{}

func (jsonOption) applyToClient(c *clientConfig) { c.json = true }

// WithRetry sets how the client retries. Only methods whose
// idempotency_level is NO_SIDE_EFFECTS or IDEMPOTENT are ever retried, and
// only after [CodeUnavailable] (no responders, a server answering
// unavailable, a dropped connection) or a server's [CodeResourceExhausted]
// (overload). Retries are on by default with the zero [RetryPolicy]'s
// defaults; RetryPolicy{MaxAttempts: 1} turns them off.
func WithRetry(policy RetryPolicy) ClientOption {
	return retryOption{policy: policy}
}

type retryOption struct{ policy RetryPolicy }

func (o retryOption) applyToClient(c *clientConfig) {
	if err := o.policy.validate(); err != nil {
		c.fail(err)
		return
	}
	c.retry = o.policy
}

// WithConcurrency sets how many requests a service's handlers process at
// once, across all its methods. It defaults to [DefaultConcurrency]. n must
// be at least 1.
func WithConcurrency(n int) HandlerOption {
	return concurrencyOption(n)
}

type concurrencyOption int

func (o concurrencyOption) applyToHandler(c *handlerConfig) {
	if o < 1 {
		c.fail(fmt.Errorf("concurrency %d must be at least 1", int(o)))
		return
	}
	c.concurrency = int(o)
}

// WithMaxPending sets how many requests a service queues while all its
// workers are busy. Beyond it, requests are answered at once with
// [CodeResourceExhausted], so that an overloaded instance sheds load instead
// of building an unbounded queue whose requests would time out anyway. It
// defaults to [DefaultMaxPending]; 0 queues nothing.
func WithMaxPending(n int) HandlerOption {
	return maxPendingOption(n)
}

type maxPendingOption int

func (o maxPendingOption) applyToHandler(c *handlerConfig) {
	if o < 0 {
		c.fail(fmt.Errorf("max pending %d must not be negative", int(o)))
		return
	}
	c.maxPending = int(o)
}

// WithMaxTimeout bounds how long a handler may run. A caller's deadline
// (the Nats-Rpc-Timeout header) is clamped to it. A request without one
// (plain `nats req`) gets the schema's timeout (the method's timeout
// option, else the service's default_timeout), clamped to it too, or it
// when the schema sets none. It defaults to [DefaultMaxTimeout].
func WithMaxTimeout(d time.Duration) HandlerOption {
	return maxTimeoutOption(d)
}

type maxTimeoutOption time.Duration

func (o maxTimeoutOption) applyToHandler(c *handlerConfig) {
	if o <= 0 {
		c.fail(fmt.Errorf("max timeout %s must be positive", time.Duration(o)))
		return
	}
	c.maxTimeout = time.Duration(o)
}

// WithCallTimeout sets this call's timeout. It wins over every default and
// shortens the context's deadline when that is later (it never extends it).
func WithCallTimeout(d time.Duration) CallOption {
	return callTimeoutOption(d)
}

type callTimeoutOption time.Duration

func (o callTimeoutOption) applyToCall(c *callConfig) {
	if o <= 0 {
		c.err = errorf(CodeInvalidArgument, "call timeout "+time.Duration(o).String()+" must be positive")
		return
	}
	c.timeout = time.Duration(o)
}

// WithHeader adds a header to the request. Handlers read it from
// [CallInfo.RequestHeader]. Reserved headers (the Nats-Rpc- prefix,
// Content-Type, Nats-Service-Error, Nats-Service-Error-Code, Status,
// Description) fail the call with [CodeInvalidArgument]. W3C traceparent and
// tracestate are ordinary headers and pass through untouched.
func WithHeader(key, value string) CallOption {
	return &headerOption{key: key, value: value}
}

type headerOption struct{ key, value string }

func (o *headerOption) applyToCall(c *callConfig) {
	if c.header == nil {
		c.header = nats.Header{}
	}
	c.header.Add(o.key, o.value)
}

// WithHeaders adds every header of h to the request, as [WithHeader] does.
func WithHeaders(h nats.Header) CallOption {
	return headersOption(h)
}

type headersOption nats.Header

func (o headersOption) applyToCall(c *callConfig) {
	if len(o) == 0 {
		return
	}
	if c.header == nil {
		c.header = make(nats.Header, len(o))
	}
	for k, vs := range o {
		for _, v := range vs {
			c.header.Add(k, v)
		}
	}
}

// WithResponseHeader stores the response's headers in *h when the call
// returns, for successes and server errors alike (nil when no response
// arrived). Streams and events ignore it: a stream's call returns before
// any response, so streams have ResponseHeader and ResponseTrailer methods
// instead.
func WithResponseHeader(h *nats.Header) CallOption {
	return responseHeaderOption{h: h}
}

type responseHeaderOption struct{ h *nats.Header }

func (o responseHeaderOption) applyToCall(c *callConfig) {
	c.responseHeader = o.h
}

// StreamOption configures streams; it applies to clients (every stream
// they open), to handlers (every stream of the service) and to one call.
type StreamOption interface {
	ClientOption
	HandlerOption
	CallOption
}

// WithStreamWindow sets the flow-control window of the streams the option
// applies to: how many messages (and payload bytes) the receiving side lets
// its peer send beyond what the application has consumed. The receiver
// grants credit as the application reads, so a slow reader holds the
// sender back (its Send blocks) instead of letting messages pile up in
// memory or be dropped by NATS as a slow consumer. On a client it is the
// window of the server's messages; on a handler the window of the client's
// messages (client and bidirectional streams). A larger window helps
// throughput over long round trips and costs memory. Both must be at
// least 1; the defaults are [DefaultStreamWindow] messages and
// [DefaultStreamWindowBytes] bytes.
func WithStreamWindow(messages, bytes int) StreamOption {
	return &streamWindowOption{messages: messages, bytes: bytes}
}

type streamWindowOption struct{ messages, bytes int }

func (o *streamWindowOption) overrides() (streamOverrides, error) {
	if o.messages < 1 || o.bytes < 1 {
		return streamOverrides{}, fmt.Errorf("stream window of %d messages and %d bytes: both must be at least 1", o.messages, o.bytes)
	}
	return streamOverrides{window: uint64(o.messages), windowBytes: uint64(o.bytes)}, nil
}

func (o *streamWindowOption) applyToClient(c *clientConfig) {
	v, err := o.overrides()
	if err != nil {
		c.fail(err)
		return
	}
	c.stream = c.stream.merge(v)
}

func (o *streamWindowOption) applyToHandler(c *handlerConfig) {
	v, err := o.overrides()
	if err != nil {
		c.fail(err)
		return
	}
	c.stream = c.stream.merge(v)
}

func (o *streamWindowOption) applyToCall(c *callConfig) {
	v, err := o.overrides()
	if err != nil {
		c.err = NewError(CodeInvalidArgument, err)
		return
	}
	c.stream = c.stream.merge(v)
}

// WithHeartbeat sets how the streams the option applies to notice a
// vanished peer: each side sends a heartbeat frame after interval without
// other traffic, and gives the stream up after hearing nothing from its
// peer for liveness (or three of the peer's heartbeat intervals, if that is
// longer). A handler whose client vanished sees its context canceled; a
// client whose service vanished gets [CodeUnavailable] from Recv. Shorter
// intervals notice sooner and cost more idle traffic. liveness must be
// at least twice interval; the defaults are [DefaultHeartbeat] and
// [DefaultLiveness].
func WithHeartbeat(interval, liveness time.Duration) StreamOption {
	return &heartbeatOption{interval: interval, liveness: liveness}
}

type heartbeatOption struct{ interval, liveness time.Duration }

func (o *heartbeatOption) overrides() (streamOverrides, error) {
	if o.interval < time.Millisecond || o.liveness < 2*o.interval {
		return streamOverrides{}, fmt.Errorf("heartbeat interval %s and liveness %s: the interval must be at least 1ms and the liveness at least twice the interval", o.interval, o.liveness)
	}
	return streamOverrides{heartbeat: o.interval, liveness: o.liveness}, nil
}

func (o *heartbeatOption) applyToClient(c *clientConfig) {
	v, err := o.overrides()
	if err != nil {
		c.fail(err)
		return
	}
	c.stream = c.stream.merge(v)
}

func (o *heartbeatOption) applyToHandler(c *handlerConfig) {
	v, err := o.overrides()
	if err != nil {
		c.fail(err)
		return
	}
	c.stream = c.stream.merge(v)
}

func (o *heartbeatOption) applyToCall(c *callConfig) {
	v, err := o.overrides()
	if err != nil {
		c.err = NewError(CodeInvalidArgument, err)
		return
	}
	c.stream = c.stream.merge(v)
}

// DefaultMaxStreams is how many streams a service serves at once unless
// [WithMaxStreams] says otherwise.
const DefaultMaxStreams = 1024

// WithMaxStreams bounds how many streams (server, client and
// bidirectional) a service serves at once, across its methods. Streams do
// not take workers from the pool that serves unary requests and events
// ([WithConcurrency]): a stream may last hours and would starve them. A
// stream beyond the limit is refused at once with [CodeResourceExhausted].
// It defaults to [DefaultMaxStreams]; n must be at least 1.
func WithMaxStreams(n int) HandlerOption {
	return maxStreamsOption(n)
}

type maxStreamsOption int

func (o maxStreamsOption) applyToHandler(c *handlerConfig) {
	if o < 1 {
		c.fail(fmt.Errorf("max streams %d must be at least 1", int(o)))
		return
	}
	c.maxStreams = int(o)
}

// WithMaxStreamDuration bounds how long a stream may run: a longer
// deadline from the client (or none) is clamped to it. By default streams
// have no server-side bound: a watch may last as long as its client wants,
// and heartbeats end it when the client vanishes. [WithMaxTimeout] does not
// apply to streams.
func WithMaxStreamDuration(d time.Duration) HandlerOption {
	return maxStreamDurationOption(d)
}

type maxStreamDurationOption time.Duration

func (o maxStreamDurationOption) applyToHandler(c *handlerConfig) {
	if o <= 0 {
		c.fail(fmt.Errorf("max stream duration %s must be positive", time.Duration(o)))
		return
	}
	c.maxStreamDuration = time.Duration(o)
}

// WithIdempotencyKey sets the message ID of an event (the Nats-Msg-Id
// header). For durable events JetStream stores only the first event with a
// given ID within the stream's duplicate window, so a publish retried with
// the same key (after a timeout, say) is stored and handled once. Without
// it every Publish of a durable event gets a fresh unique ID, which still
// deduplicates the retries JetStream's client makes inside one Publish.
// Plain events carry the key too, for handlers that deduplicate
// themselves (CallInfo.RequestHeader().Get("Nats-Msg-Id")).
func WithIdempotencyKey(key string) CallOption {
	return idempotencyKeyOption(key)
}

type idempotencyKeyOption string

func (o idempotencyKeyOption) applyToCall(c *callConfig) {
	if o == "" || strings.ContainsAny(string(o), "\r\n") {
		c.err = errorf(CodeInvalidArgument, "idempotency key "+strconv.Quote(string(o))+" must be non-empty and on one line")
		return
	}
	c.idempotencyKey = string(o)
}

// WithMethods makes a service serve only the named methods (proto method
// names, e.g. "Subscribe"), ignoring the handlers of the others, so that
// an instance started with a generated Register function can serve part of
// its service: say, a service's streams without its durable events, which
// need JetStream, or one method scaled apart from the rest. Naming a method
// the service does not have fails [NewService]. Several WithMethods add up.
func WithMethods(names ...string) HandlerOption {
	return methodsOption(names)
}

type methodsOption []string

func (o methodsOption) applyToHandler(c *handlerConfig) {
	if c.methods == nil {
		c.methods = make(map[string]bool, len(o))
	}
	for _, n := range o {
		c.methods[n] = true
	}
}
