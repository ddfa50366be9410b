package natsrpc

import (
	"errors"
	"fmt"
	"runtime"
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
	err          error
}

type handlerConfig struct {
	prefix       string
	interceptors []Interceptor
	concurrency  int
	maxPending   int
	maxTimeout   time.Duration
	err          error
}

type callConfig struct {
	timeout        time.Duration
	header         nats.Header
	responseHeader *nats.Header
	err            error
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
// arrived).
func WithResponseHeader(h *nats.Header) CallOption {
	return responseHeaderOption{h: h}
}

type responseHeaderOption struct{ h *nats.Header }

func (o responseHeaderOption) applyToCall(c *callConfig) {
	c.responseHeader = o.h
}
