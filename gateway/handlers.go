package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/nats-io/nats.go"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/spec"
)

// handlerFactory makes the connect-go handlers behind vanguard: one per
// method, each forwarding binary protobuf to the method's NATS subject
// through a [natsrpc.DynamicClient].
type handlerFactory struct {
	forward    *headerPolicy
	maxTimeout time.Duration
	readMax    int
}

// serviceHandler serves every method of sd: a small mux on the procedure
// path. rs is the route set being built.
func (f *handlerFactory) serviceHandler(rs *routeSet, sd protoreflect.ServiceDescriptor) http.Handler {
	mux := http.NewServeMux()
	for i := 0; i < sd.Methods().Len(); i++ {
		md := sd.Methods().Get(i)
		proc := "/" + string(sd.FullName()) + "/" + string(md.Name())
		rt, ok := rs.routes[proc]
		if !ok {
			continue // skipped by the schema
		}
		mux.Handle(proc, f.methodHandler(rt))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = &settledBody{ReadCloser: r.Body}
		}
		mux.ServeHTTP(w, r)
	})
}

// settledBody makes a request body that vanguard failed to transcode fail
// for the handler too. When vanguard cannot decode a JSON or REST request
// it answers the client with the error, but ends the transcoded body it
// hands the handler with a plain io.EOF, which connect-go reads as an
// empty request message: the service would be called with an empty
// request. Vanguard's reader keeps the real error for later reads, so on
// io.EOF this asks once more, with an empty buffer, and reports that
// error instead when there is one.
type settledBody struct {
	io.ReadCloser
}

func (b *settledBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		if _, again := b.ReadCloser.Read(p[:0]); again != nil && again != io.EOF {
			return n, again
		}
	}
	return n, err
}

func (f *handlerFactory) methodHandler(rt *route) http.Handler {
	opts := []connect.HandlerOption{connect.WithCodec(rawCodec{}), connect.WithReadMaxBytes(f.readMax),
		// Vanguard and the handlers talk in one process: no gzip between
		// them.
		connect.WithCompression("gzip", nil, nil)}
	if rt.method.Idempotency != 0 {
		opts = append(opts, connect.WithIdempotency(connect.IdempotencyLevel(rt.method.Idempotency)))
	}
	if rt.restOf != nil {
		return connect.NewServerStreamHandler(rt.procedure, f.restStream(rt), opts...)
	}
	switch rt.method.Kind {
	case spec.KindUnary:
		return connect.NewUnaryHandler(rt.procedure, f.unary(rt), opts...)
	case spec.KindEvent:
		return connect.NewUnaryHandler(rt.procedure, f.event(rt), opts...)
	case spec.KindServerStream:
		return connect.NewServerStreamHandler(rt.procedure, f.serverStream(rt), opts...)
	case spec.KindClientStream:
		return connect.NewClientStreamHandler(rt.procedure, f.clientStream(rt), opts...)
	default:
		return connect.NewBidiStreamHandler(rt.procedure, f.bidiStream(rt), opts...)
	}
}

// deadline bounds a call: the client's deadline (Connect-Timeout-Ms,
// grpc-timeout) or, for unary calls and events without one, the schema's
// timeout or the runtime's default, and never past --max-timeout.
func (f *handlerFactory) deadline(ctx context.Context, rt *route) (context.Context, context.CancelFunc) {
	limit := f.maxTimeout
	if _, ok := ctx.Deadline(); !ok && (rt.method.Kind == spec.KindUnary || rt.method.Kind == spec.KindEvent) && rt.restOf == nil {
		d := rt.method.Timeout
		if d == 0 {
			d = natsrpc.DefaultTimeout
		}
		limit = min(limit, d)
	}
	return context.WithTimeout(ctx, limit)
}

// callOptions forwards the allowed request headers.
func (f *handlerFactory) callOptions(h http.Header, respHdr *nats.Header) []natsrpc.CallOption {
	opts := make([]natsrpc.CallOption, 0, 2)
	if fh := f.forward.forward(h); fh != nil {
		opts = append(opts, natsrpc.WithHeaders(fh))
	}
	if respHdr != nil {
		opts = append(opts, natsrpc.WithResponseHeader(respHdr))
	}
	return opts
}

func (f *handlerFactory) unary(rt *route) func(context.Context, *connect.Request[rawBody]) (*connect.Response[rawBody], error) {
	return func(ctx context.Context, req *connect.Request[rawBody]) (*connect.Response[rawBody], error) {
		obs := observe(ctx, rt.procedure)
		ctx, cancel := f.deadline(ctx, rt)
		defer cancel()
		var hdr nats.Header
		out, err := rt.client.CallUnaryBytes(ctx, req.Msg.b, f.callOptions(req.Header(), &hdr)...)
		if err != nil {
			ce := connectError(err)
			obs.done(ce)
			return nil, ce
		}
		res := connect.NewResponse(&rawBody{b: out})
		copyResponseHeader(res.Header(), hdr)
		obs.done(nil)
		return res, nil
	}
}

// event publishes, and answers google.protobuf.Empty as soon as NATS took
// the event (JetStream stored it, for a durable event).
func (f *handlerFactory) event(rt *route) func(context.Context, *connect.Request[rawBody]) (*connect.Response[rawBody], error) {
	return func(ctx context.Context, req *connect.Request[rawBody]) (*connect.Response[rawBody], error) {
		obs := observe(ctx, rt.procedure)
		ctx, cancel := f.deadline(ctx, rt)
		defer cancel()
		if err := rt.client.PublishBytes(ctx, req.Msg.b, f.callOptions(req.Header(), nil)...); err != nil {
			ce := connectError(err)
			obs.done(ce)
			return nil, ce
		}
		obs.done(nil)
		return connect.NewResponse(&rawBody{}), nil
	}
}

func (f *handlerFactory) serverStream(rt *route) func(context.Context, *connect.Request[rawBody], *connect.ServerStream[rawBody]) error {
	return func(ctx context.Context, req *connect.Request[rawBody], out *connect.ServerStream[rawBody]) error {
		obs := observe(ctx, rt.procedure)
		ctx, cancel := f.deadline(ctx, rt)
		defer cancel()
		s, err := rt.client.CallServerStreamBytes(ctx, req.Msg.b, f.callOptions(req.Header(), nil)...)
		if err != nil {
			ce := connectError(err)
			obs.done(ce)
			return ce
		}
		defer s.Close()
		ce := pump(s, out.ResponseHeader(), out.ResponseTrailer(), func(b []byte) error { return out.Send(&rawBody{b: b}) })
		obs.done(ce)
		if ce == nil {
			return nil
		}
		return ce
	}
}

// pump copies a NATS stream's responses to send, with the stream's
// response header (before the first message) and trailer.
func pump(s *natsrpc.DynamicStream, header, trailer http.Header, send func([]byte) error) *connect.Error {
	first := true
	for {
		b, err := s.RecvBytes()
		if first {
			copyResponseHeader(header, s.ResponseHeader())
			first = false
		}
		if err == io.EOF {
			copyResponseHeader(trailer, s.ResponseTrailer())
			return nil
		}
		if err != nil {
			copyResponseHeader(trailer, s.ResponseTrailer())
			return connectError(err)
		}
		if err := send(b); err != nil {
			return connectError(err)
		}
	}
}

func (f *handlerFactory) clientStream(rt *route) func(context.Context, *connect.ClientStream[rawBody]) (*connect.Response[rawBody], error) {
	return func(ctx context.Context, in *connect.ClientStream[rawBody]) (*connect.Response[rawBody], error) {
		obs := observe(ctx, rt.procedure)
		ctx, cancel := f.deadline(ctx, rt)
		defer cancel()
		s, err := rt.client.CallClientStream(ctx, f.callOptions(in.RequestHeader(), nil)...)
		if err != nil {
			ce := connectError(err)
			obs.done(ce)
			return nil, ce
		}
		for in.Receive() {
			if err := s.SendBytes(in.Msg().b); err != nil {
				if errors.Is(err, io.EOF) {
					break // the service ended the stream: CloseAndRecv has its status
				}
				_ = s.Close()
				ce := connectError(err)
				obs.done(ce)
				return nil, ce
			}
		}
		if err := in.Err(); err != nil {
			_ = s.Close()
			ce := connectError(err)
			obs.done(ce)
			return nil, ce
		}
		b, err := s.CloseAndRecvBytes()
		if err != nil {
			ce := connectError(err)
			obs.done(ce)
			return nil, ce
		}
		res := connect.NewResponse(&rawBody{b: b})
		copyResponseHeader(res.Header(), s.ResponseHeader())
		copyResponseHeader(res.Trailer(), s.ResponseTrailer())
		obs.done(nil)
		return res, nil
	}
}

func (f *handlerFactory) bidiStream(rt *route) func(context.Context, *connect.BidiStream[rawBody, rawBody]) error {
	return func(ctx context.Context, st *connect.BidiStream[rawBody, rawBody]) error {
		obs := observe(ctx, rt.procedure)
		ctx, cancel := f.deadline(ctx, rt)
		defer cancel()
		s, err := rt.client.CallBidiStream(ctx, f.callOptions(st.RequestHeader(), nil)...)
		if err != nil {
			ce := connectError(err)
			obs.done(ce)
			return ce
		}
		defer s.Close()
		upErr := make(chan *connect.Error, 1)
		go func() {
			for {
				msg, err := st.Receive()
				if err != nil {
					if errors.Is(err, io.EOF) {
						_ = s.CloseSend()
						upErr <- nil
						return
					}
					_ = s.Close()
					upErr <- connectError(err)
					return
				}
				if err := s.SendBytes(msg.b); err != nil {
					if errors.Is(err, io.EOF) {
						upErr <- nil // the service ended the stream
						return
					}
					_ = s.Close()
					upErr <- connectError(err)
					return
				}
			}
		}()
		ce := pump(s, st.ResponseHeader(), st.ResponseTrailer(), func(b []byte) error { return st.Send(&rawBody{b: b}) })
		if ce == nil {
			select {
			case ce = <-upErr:
			case <-time.After(time.Second):
				// The service ended the stream; the client keeps sending
				// into a closed request: its messages go nowhere.
			}
		}
		obs.done(ce)
		if ce == nil {
			return nil
		}
		return ce
	}
}

// The REST stream formats.
const (
	contentTypeNDJSON = "application/x-ndjson"
	contentTypeSSE    = "text/event-stream"
)

// restStream answers a REST route of a server-streaming method: it calls
// the method and writes each response as JSON, one line of NDJSON
// ({"result": ...}) or one Server-Sent Event (event: message), and ends
// with the final status ({"status": ...}, event: status), whose code is
// "ok" when the stream ended well. An error before the first response is
// an HTTP error like any REST error.
func (f *handlerFactory) restStream(rt *route) func(context.Context, *connect.Request[rawBody], *connect.ServerStream[rawBody]) error {
	real := rt.restOf
	return func(ctx context.Context, req *connect.Request[rawBody], out *connect.ServerStream[rawBody]) error {
		obs := observe(ctx, real.procedure)
		sse := acceptsEventStream(originalAccept(ctx, req.Header()))
		ctx, cancel := f.deadline(ctx, rt)
		defer cancel()
		s, err := real.client.CallServerStreamBytes(ctx, req.Msg.b, f.callOptions(req.Header(), nil)...)
		if err != nil {
			ce := connectError(err)
			obs.done(ce)
			return ce
		}
		defer s.Close()
		marshal := protojson.MarshalOptions{Resolver: typeResolver{real.types}}
		outType := real.desc.Output()
		ct := contentTypeNDJSON
		if sse {
			ct = contentTypeSSE
		}
		sent := 0
		send := func(data []byte) error {
			body, err := proto.Marshal(&httpbody.HttpBody{ContentType: ct, Data: data})
			if err != nil {
				return err
			}
			sent++
			return out.Send(&rawBody{b: body})
		}
		ce := pump(s, out.ResponseHeader(), out.ResponseTrailer(), func(b []byte) error {
			m := dynamicpb.NewMessage(outType)
			if err := (proto.UnmarshalOptions{Resolver: typeResolver{real.types}}).Unmarshal(b, m); err != nil {
				return natsrpc.NewError(natsrpc.CodeInternal, err)
			}
			j, err := marshal.Marshal(m)
			if err != nil {
				return natsrpc.NewError(natsrpc.CodeInternal, err)
			}
			return send(streamEvent(sse, "message", "result", j))
		})
		obs.done(ce)
		if ce != nil && sent == 0 {
			return ce
		}
		status := connectWireError{Code: "ok"}
		if ce != nil {
			status = connectWireError{Code: ce.Code().String(), Message: ce.Message()}
			for _, d := range ce.Details() {
				status.Details = append(status.Details, connectWireDetail{Type: d.Type(), Value: b64(d.Bytes())})
			}
		}
		j, _ := json.Marshal(status)
		_ = send(streamEvent(sse, "status", "status", j))
		return nil
	}
}

// streamEvent frames one JSON value as an SSE event or an NDJSON line
// {"<key>": value}.
func streamEvent(sse bool, event, key string, j []byte) []byte {
	if sse {
		b := make([]byte, 0, len(j)+len(event)+16)
		b = append(b, "event: "...)
		b = append(b, event...)
		b = append(b, "\ndata: "...)
		b = append(b, j...)
		return append(b, "\n\n"...)
	}
	b := make([]byte, 0, len(j)+len(key)+6)
	b = append(b, `{"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	b = append(b, j...)
	return append(b, "}\n"...)
}
