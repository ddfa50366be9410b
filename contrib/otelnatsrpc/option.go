package otelnatsrpc

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/natsrpc/natsrpc"
)

// Option configures an [Interceptor].
type Option interface {
	apply(*config)
}

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagator     propagation.TextMapPropagator
	filter         func(context.Context, natsrpc.Spec) bool
	public         bool
	attributes     []attribute.KeyValue
	withoutTracing bool
	withoutMetrics bool
	messageEvery   uint64
}

// WithTracerProvider makes the interceptor create spans with provider
// instead of the global one ([go.opentelemetry.io/otel.GetTracerProvider]).
func WithTracerProvider(provider trace.TracerProvider) Option {
	return &tracerProviderOption{provider: provider}
}

type tracerProviderOption struct{ provider trace.TracerProvider }

func (o *tracerProviderOption) apply(c *config) {
	if o.provider != nil {
		c.tracerProvider = o.provider
	}
}

// WithMeterProvider makes the interceptor record metrics with provider
// instead of the global one ([go.opentelemetry.io/otel.GetMeterProvider]).
func WithMeterProvider(provider metric.MeterProvider) Option {
	return &meterProviderOption{provider: provider}
}

type meterProviderOption struct{ provider metric.MeterProvider }

func (o *meterProviderOption) apply(c *config) {
	if o.provider != nil {
		c.meterProvider = o.provider
	}
}

// WithPropagator makes the interceptor inject and extract trace context
// with propagator. By default it uses the global propagator
// ([go.opentelemetry.io/otel.GetTextMapPropagator]) once one is set, and W3C
// Trace Context and Baggage until then (OpenTelemetry's global propagator
// does nothing until set, which would silently cut every trace at the first
// hop).
func WithPropagator(propagator propagation.TextMapPropagator) Option {
	return &propagatorOption{propagator: propagator}
}

type propagatorOption struct{ propagator propagation.TextMapPropagator }

func (o *propagatorOption) apply(c *config) {
	if o.propagator != nil {
		c.propagator = o.propagator
	}
}

// WithFilter traces and measures only the calls for which filter returns
// true; the others pass through untouched (a client then sends no trace
// context). filter must be safe for concurrent use.
func WithFilter(filter func(ctx context.Context, spec natsrpc.Spec) bool) Option {
	return &filterOption{filter: filter}
}

type filterOption struct {
	filter func(context.Context, natsrpc.Spec) bool
}

func (o *filterOption) apply(c *config) {
	c.filter = o.filter
}

// WithPublicEndpoint is for services that untrusted callers reach (a
// gateway's backend, another team's account): their server spans start new
// traces, linked to the caller's span instead of being its children, so
// that a caller cannot choose the trace its requests are recorded in (nor,
// through the sampled flag, whether they are). By default server spans are
// children of the caller's span, as fits services inside one system.
func WithPublicEndpoint() Option {
	return publicEndpointOption{}
}

type publicEndpointOption struct{}

func (publicEndpointOption) apply(c *config) {
	c.public = true
}

// WithAttributes adds attributes to every span and every measurement, for
// example the deployment's server.address or a tenant. Keep their values
// few: each distinct set is a new metric series.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return &attributesOption{attrs: attrs}
}

type attributesOption struct{ attrs []attribute.KeyValue }

func (o *attributesOption) apply(c *config) {
	c.attributes = append(c.attributes, o.attrs...)
}

// WithoutTracing turns spans off. Trace context still passes through: a
// client sends the context of the span its caller's context carries.
func WithoutTracing() Option {
	return withoutTracingOption{}
}

type withoutTracingOption struct{}

func (withoutTracingOption) apply(c *config) {
	c.withoutTracing = true
}

// WithoutMetrics turns the duration histograms off.
func WithoutMetrics() Option {
	return withoutMetricsOption{}
}

type withoutMetricsOption struct{}

func (withoutMetricsOption) apply(c *config) {
	c.withoutMetrics = true
}

// WithMessageEvents records the "message" span event of every n-th message
// of a stream in each direction: messages 1, 1+n, 1+2n... (their
// rpc.message.id shows which). 1, the default, records every message; 0
// records none. A stream's span gets its message counts either way.
func WithMessageEvents(n uint) Option {
	return messageEventsOption(n)
}

type messageEventsOption uint

func (o messageEventsOption) apply(c *config) {
	c.messageEvery = uint64(o)
}
