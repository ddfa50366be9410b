// Package transport builds the benchmark's rows: the same call served and
// made over natsrpc, raw nats.go, psrpc, gRPC-Go, connect-go and net/http with
// encoding/json, each with its server on a random loopback port and its
// links counted for bytes on the wire.
package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/workload"
)

// Env is what the transports share: the NATS server's URL.
type Env struct {
	NATSURL string
	// NATSCPU returns the nats-server process's CPU time; nil when it runs
	// in this process.
	NATSCPU func() time.Duration
	// GatewayURL is the `natsrpc gateway` process's address, for the
	// gateway row; GatewayCPU its CPU time.
	GatewayURL string
	GatewayCPU func() time.Duration
	// NatsrpcBin is a natsrpc binary and Dir a scratch directory, for the
	// bridge row (one `natsrpc bridge` process per call).
	NatsrpcBin string
	Dir        string
	// BaselineURL and BaselineCPU are a second gateway process, built
	// from another commit, for the gatewaybase row (benchtable
	// -gateway-baseline BIN): before and after in the same rounds.
	BaselineURL string
	BaselineCPU func() time.Duration
}

// Transport is one row of the table.
type Transport struct {
	// Name is the row name.
	Name string
	// Key is a short name for flags and benchmark names.
	Key string
	// NATS is true when the row needs the NATS server.
	NATS bool
	// Gateway is true when the row needs a `natsrpc gateway` process.
	Gateway bool
	// Bridge is true when the row runs `natsrpc bridge` processes.
	Bridge bool
	// New starts the server and connects the client for call.
	New func(env Env, call *workload.Call) (*harness.Target, error)
}

// All lists the rows in table order. The raw nats.go row is the baseline
// ratios are computed against.
var All = []Transport{
	{Name: "natsrpc (generated client + handler)", Key: "natsrpc", NATS: true, New: NewNatsrpc},
	{Name: "raw nats.go (floor)", Key: "rawnats", NATS: true, New: NewRawNATS},
	{Name: "psrpc (LiveKit, NATS bus)", Key: "psrpc", NATS: true, New: NewPsrpc},
	{Name: "gRPC-Go (HTTP/2, protobuf)", Key: "grpc", New: NewGRPC},
	{Name: "connect-go (HTTP/1.1, protobuf)", Key: "connect", New: NewConnect},
	{Name: "net/http + encoding/json (HTTP/1.1)", Key: "httpjson", New: NewHTTPJSON},
	{Name: "gateway: HTTP/1.1 + JSON → natsrpc gateway → natsrpc", Key: "gateway", NATS: true, Gateway: true, New: NewGateway},
	{Name: "net/http + protojson (HTTP/1.1), the bridge's service called directly", Key: "httpprotojson", New: NewHTTPProtoJSON},
	{Name: "bridge: natsrpc client → natsrpc bridge → net/http + protojson", Key: "bridge", NATS: true, Bridge: true, New: NewBridge},
}

// Extra are rows run only when asked for by key.
var Extra = []Transport{
	{Name: "gateway (baseline binary, -gateway-baseline)", Key: "gatewaybase", NATS: true, Gateway: true, New: NewGatewayBaseline},
}

// Baseline is the Key of the row ratios are computed against.
const Baseline = "rawnats"

// ByKey returns the transport with key k.
func ByKey(k string) (Transport, bool) {
	for _, t := range append(All[:len(All):len(All)], Extra...) {
		if t.Key == k {
			return t, true
		}
	}
	return Transport{}, false
}

// connectNATS opens one connection whose traffic c counts.
func connectNATS(url, name string, c *harness.Counter) (*nats.Conn, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.Timeout(5*time.Second),
		nats.SetCustomDialer(harness.Dialer{C: c}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect %s to %s: %w", name, url, err)
	}
	return nc, nil
}

// natsPair opens the handler's and the caller's connections: the same two
// connections for the natsrpc and raw rows.
func natsPair(url string) (server, client *nats.Conn, callerWire, allWire *harness.Counter, err error) {
	allWire = harness.NewCounter(nil)
	callerWire = harness.NewCounter(allWire)
	server, err = connectNATS(url, "bench-handler", harness.NewCounter(allWire))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	client, err = connectNATS(url, "bench-caller", callerWire)
	if err != nil {
		server.Close()
		return nil, nil, nil, nil, err
	}
	return server, client, callerWire, allWire, nil
}

// unary is a Target's Call for a generated client method (gRPC's or
// natsrpc's, whose options it leaves at their defaults): it sends req and
// checks the response.
func unary[Req, Res proto.Message, Opt any](call *workload.Call, req Req, method func(context.Context, Req, ...Opt) (Res, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		res, err := method(ctx, req)
		if err != nil {
			return err
		}
		return call.Check(res)
	}
}

// postJSON posts body as JSON to url with the extra headers (name, value
// pairs) and returns the response body, or an error for any status but
// 200: the HTTP rows' call.
func postJSON(ctx context.Context, client *http.Client, url string, body []byte, headers ...string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	return b, nil
}
