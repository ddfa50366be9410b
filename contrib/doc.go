// Package contrib is the home of natsrpc's optional integrations: packages
// that bring heavy dependencies of their own and so stay out of the runtime,
// which imports only protobuf and nats.go. Each is a Go module of its own
// (as connect-go ships otelconnect), so that its requirements reach only the
// services that import it. Each is an
// [github.com/natsrpc/natsrpc.Interceptor] given to clients and services
// with [github.com/natsrpc/natsrpc.WithInterceptors]:
//
//   - [github.com/natsrpc/natsrpc/contrib/otelnatsrpc]: OpenTelemetry
//     tracing (client and server spans, trace context through the request
//     headers; one span per stream with an event per message) and RPC
//     metrics.
//   - [github.com/natsrpc/natsrpc/contrib/promnatsrpc]: Prometheus
//     counters, histograms and in-flight gauges by service, method and code,
//     and message counters, registered on the caller's registry.
//   - [github.com/natsrpc/natsrpc/contrib/breaker]: a client-side circuit
//     breaker that fails calls and stream opens fast while a service is
//     unreachable.
//
// All three serve unary calls, events and streams (server, client and
// bidirectional).
//
// This package itself has no API.
package contrib
