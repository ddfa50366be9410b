package otelnatsrpc

import (
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// HeaderCarrier adapts NATS message headers to a
// [propagation.TextMapCarrier], to inject and extract trace context by hand,
// e.g. on plain NATS messages:
//
//	otel.GetTextMapPropagator().Inject(ctx, otelnatsrpc.HeaderCarrier(msg.Header))
//
// NATS header names are case-sensitive. Set writes the name the propagator
// gives ("traceparent") and removes any other spelling of it; Get prefers an
// exact match and falls back to a case-insensitive one, so that a
// "Traceparent" written by an HTTP-minded client is still found.
type HeaderCarrier nats.Header

var _ propagation.TextMapCarrier = HeaderCarrier(nil)

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	for k, v := range c {
		if len(v) > 0 && strings.EqualFold(k, key) {
			return v[0]
		}
	}
	return ""
}

// Set sets key to the single value, replacing any spelling of key.
func (c HeaderCarrier) Set(key, value string) {
	for k := range c {
		if k != key && strings.EqualFold(k, key) {
			delete(c, k)
		}
	}
	c[key] = []string{value}
}

// Keys returns the names of the headers.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
