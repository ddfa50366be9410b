package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"

	"github.com/natsrpc/natsrpc/bench/internal/gen/natsrpc/bench/v1/benchv1connect"
	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/workload"
	npcv1 "github.com/natsrpc/natsrpc/proto/gaming/npc_behavior/v1"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

// httpClient is the HTTP/1.1 client both HTTP rows use: keep-alive, with
// enough idle connections per host for every concurrent caller (the
// default of 2 would open and close a connection per call at 64 callers).
func httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// serveHTTP serves h on a counted loopback listener.
func serveHTTP(h http.Handler) (url string, wire *harness.Counter, stop func(), err error) {
	lis, err := harness.ListenLoopback()
	if err != nil {
		return "", nil, nil, err
	}
	wire = harness.NewCounter(nil)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(harness.Listener(lis, wire))
	return "http://" + lis.Addr().String(), wire, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// NewHTTPJSON is what the studio's services do today: net/http with
// encoding/json on hand-written structs (workload's *JSON types), POST
// with a JSON body, HTTP/1.1 keep-alive, no load balancer in between.
func NewHTTPJSON(_ Env, call *workload.Call) (*harness.Target, error) {
	path := "/" + call.Service + "/" + call.Name
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
		req := call.NewJSONRequest()
		if err := json.NewDecoder(r.Body).Decode(req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(call.HandleJSON(req))
	})
	base, wire, stop, err := serveHTTP(mux)
	if err != nil {
		return nil, err
	}
	client := httpClient()
	url := base + path
	req := call.JSONRequest()
	return &harness.Target{
		Name: "httpjson",
		Call: func(ctx context.Context) error {
			body, err := json.Marshal(req)
			if err != nil {
				return err
			}
			hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				return err
			}
			hreq.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(hreq)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
			}
			res := call.NewJSONResponse()
			if err := json.NewDecoder(resp.Body).Decode(res); err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body) // the encoder's trailing newline, so the connection is reused
			return call.CheckJSON(res)
		},
		CallerWire: wire,
		Close: func() {
			client.CloseIdleConnections()
			stop()
		},
	}, nil
}

type connectNPC struct {
	benchv1connect.UnimplementedNPCBehaviorServiceHandler
}

func (connectNPC) Decide(_ context.Context, req *connect.Request[npcv1.DecideRequest]) (*connect.Response[npcv1.DecideResponse], error) {
	return connect.NewResponse(workload.Decide(req.Msg)), nil
}

type connectQuest struct {
	benchv1connect.UnimplementedQuestSystemServiceHandler
}

func (connectQuest) GenerateQuest(_ context.Context, req *connect.Request[questv1.GenerateQuestRequest]) (*connect.Response[questv1.GenerateQuestResponse], error) {
	return connect.NewResponse(workload.GenerateQuest(req.Msg)), nil
}

// NewConnect is connect-go with its generated stubs and default options:
// the Connect protocol, binary protobuf, over net/http's HTTP/1.1 client
// and server (HTTP+protobuf, no gRPC framing).
func NewConnect(_ Env, call *workload.Call) (*harness.Target, error) {
	mux := http.NewServeMux()
	switch call {
	case workload.DecideCall:
		mux.Handle(benchv1connect.NewNPCBehaviorServiceHandler(connectNPC{}))
	case workload.GenerateQuestCall:
		mux.Handle(benchv1connect.NewQuestSystemServiceHandler(connectQuest{}))
	default:
		return nil, errors.New("no connect stubs for " + call.Name)
	}
	base, wire, stop, err := serveHTTP(mux)
	if err != nil {
		return nil, err
	}
	client := httpClient()
	var do func(ctx context.Context) error
	switch call {
	case workload.DecideCall:
		c := benchv1connect.NewNPCBehaviorServiceClient(client, base)
		req := workload.DecideRequest()
		do = func(ctx context.Context) error {
			res, err := c.Decide(ctx, connect.NewRequest(req))
			if err != nil {
				return err
			}
			return call.Check(res.Msg)
		}
	case workload.GenerateQuestCall:
		c := benchv1connect.NewQuestSystemServiceClient(client, base)
		req := workload.GenerateQuestRequest()
		do = func(ctx context.Context) error {
			res, err := c.GenerateQuest(ctx, connect.NewRequest(req))
			if err != nil {
				return err
			}
			return call.Check(res.Msg)
		}
	}
	return &harness.Target{
		Name:       "connect",
		Call:       do,
		CallerWire: wire,
		Close: func() {
			client.CloseIdleConnections()
			stop()
		},
	}, nil
}
