// Package contrib is the home of natsrpc's optional integrations: packages
// that bring heavy dependencies of their own and so stay out of the runtime,
// which imports only protobuf and nats.go. Each is a Go module of its own
// (as connect-go ships otelconnect), so that its requirements reach only the
// services that import it. The first three are
// [github.com/natsrpc/natsrpc.Interceptor]s given to clients and services
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
//   - [github.com/natsrpc/natsrpc/contrib/shadow]: the storage and report
//     of shadow traffic ([github.com/natsrpc/natsrpc.WithShadow]): a
//     recorder that keeps the pairs of answers that differ in a bounded
//     JetStream stream, and the report `natsrpc shadow report` prints.
//
// This package itself has no API.
package contrib
