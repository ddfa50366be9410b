package rpcctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/schema"
	"github.com/natsrpc/natsrpc/internal/spec"
)

// ExitRPCBase is added to an RPC error's code number to make the CLI's
// exit code, as grpcurl does: unavailable (14) exits 78.
const ExitRPCBase = 64

// RPCError is a call that failed with a natsrpc error code: the service's
// answer, or what the client made up (no responders, a deadline).
type RPCError struct {
	// Method is the method called, "pkg.Service/Method".
	Method string
	// Err is the error.
	Err *natsrpc.Error
	// Details are the error's details as JSON (undecodable ones as their
	// type URL and length).
	Details []string
}

// ExitCode returns 64 plus the code's number.
func (e *RPCError) ExitCode() int { return ExitRPCBase + int(e.Err.Code()) }

// Error returns "<method>: <code>: <message>", then the details.
func (e *RPCError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: %s", e.Method, e.Err.Code(), e.Err.Message())
	if len(e.Details) > 0 {
		fmt.Fprintf(&b, "; details: %s", strings.Join(e.Details, ", "))
	}
	return b.String()
}

func newRPCError(method string, e *natsrpc.Error, types schema.Resolver) *RPCError {
	out := &RPCError{Method: method, Err: e}
	for _, d := range e.Details() {
		b, err := protojson.MarshalOptions{Resolver: types}.Marshal(d)
		if err != nil {
			out.Details = append(out.Details, fmt.Sprintf("%s (%d bytes, not decodable: %v)", d.GetTypeUrl(), len(d.GetValue()), err))
			continue
		}
		var c bytes.Buffer
		_ = json.Compact(&c, b)
		out.Details = append(out.Details, c.String())
	}
	return out
}

// Printer prints messages as protojson: indented (text), or one compact
// document per line (--format json). The bytes do not depend on
// protojson's deliberately unstable spacing.
type Printer struct {
	// W is where messages go.
	W io.Writer
	// Compact prints one compact document per line.
	Compact bool
	// EmitDefaults prints fields with their zero value too.
	EmitDefaults bool
	// Types resolves Any values.
	Types schema.Resolver

	mu sync.Mutex
}

// Print prints one message.
func (p *Printer) Print(m proto.Message) error {
	b, err := protojson.MarshalOptions{EmitUnpopulated: p.EmitDefaults, Resolver: p.Types}.Marshal(m)
	if err != nil {
		return fmt.Errorf("print a %s as JSON: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return p.PrintJSON(b)
}

// PrintJSON prints a JSON document in the printer's layout.
func (p *Printer) PrintJSON(b []byte) error {
	var out bytes.Buffer
	var err error
	if p.Compact {
		err = json.Compact(&out, b)
	} else {
		err = json.Indent(&out, b, "", "  ")
	}
	if err != nil {
		return err
	}
	out.WriteByte('\n')
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err = p.W.Write(out.Bytes())
	return err
}

// CallOptions tune [Call].
type CallOptions struct {
	// Headers are sent as metadata.
	Headers nats.Header
	// Timeout bounds the call (a whole stream); 0 leaves the schema's
	// timeout or the runtime's default.
	Timeout time.Duration
	// Prefix is the runtime subject prefix the services run with.
	Prefix string
	// ClientOptions are added to the call's client, e.g. an interceptor.
	ClientOptions []natsrpc.ClientOption
}

// ParseHeader parses one -H value, "key:value" (spaces after the colon
// are dropped), and checks the name as the runtime will.
func ParseHeader(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, ":")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return "", "", fmt.Errorf("-H %q: write the header as key:value, e.g. -H traceparent:00-4bf9…-01", s)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return "", "", fmt.Errorf("-H %q: the header name %q contains %q; names are printable ASCII without \"(),/:;<=>?@[\\]{}", s, k, c)
		}
	}
	lower := strings.ToLower(k)
	switch {
	case strings.HasPrefix(lower, "nats-rpc-"), lower == "content-type", lower == "nats-service-error", lower == "nats-service-error-code", lower == "status", lower == "description", lower == "nats-msg-id", lower == "nats-expected-stream":
		return "", "", fmt.Errorf("-H %q: %q is reserved by the natsrpc wire contract (docs/wire.md §2); use --timeout for the deadline", s, k)
	}
	return k, strings.TrimLeft(v, " \t"), nil
}

// Call calls m with the JSON request messages in data (nil: one empty
// message for the methods that take one, none for client and bidi
// streams) and prints the responses with out as they arrive. Bad input
// is a [*DataError]; a failed call an [*RPCError].
func Call(ctx context.Context, nc *nats.Conn, m *schema.Method, data io.Reader, opts CallOptions, out *Printer) error {
	clientOpts := []natsrpc.ClientOption{natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1})}
	if opts.Prefix != "" {
		clientOpts = append(clientOpts, natsrpc.WithSubjectPrefix(opts.Prefix))
	}
	clientOpts = append(clientOpts, opts.ClientOptions...)
	c := natsrpc.NewDynamicClient(nc, m.Desc, clientOpts...)
	var callOpts []natsrpc.CallOption
	for k, vs := range opts.Headers {
		for _, v := range vs {
			callOpts = append(callOpts, natsrpc.WithHeader(k, v))
		}
	}
	if opts.Timeout > 0 {
		callOpts = append(callOpts, natsrpc.WithCallTimeout(opts.Timeout))
	}
	name := strings.TrimPrefix(m.Procedure, "/")
	decode := func(n int, raw json.RawMessage) (proto.Message, error) {
		msg := dynamicpb.NewMessage(m.Desc.Input())
		if err := (protojson.UnmarshalOptions{Resolver: m.Types}).Unmarshal(raw, msg); err != nil {
			return nil, &DataError{Message: n, Err: fmt.Errorf("not a %s: %s", m.Desc.Input().FullName(), protoMessage(err))}
		}
		return msg, nil
	}
	fail := func(err error) error {
		var de *DataError
		if errors.As(err, &de) {
			return err
		}
		var e *natsrpc.Error
		if errors.As(err, &e) {
			return newRPCError(name, e, m.Types)
		}
		return err
	}
	switch m.Kind {
	case spec.KindUnary, spec.KindEvent, spec.KindServerStream:
		req, err := single(m, data, decode)
		if err != nil {
			return err
		}
		switch m.Kind {
		case spec.KindUnary:
			res, err := c.CallUnary(ctx, req, callOpts...)
			if err != nil {
				return fail(err)
			}
			return out.Print(res)
		case spec.KindEvent:
			return fail(c.Publish(ctx, req, callOpts...))
		}
		s, err := c.CallServerStream(ctx, req, callOpts...)
		if err != nil {
			return fail(err)
		}
		defer func() { _ = s.Close() }()
		return fail(receiveAll(s, out))
	case spec.KindClientStream:
		s, err := c.CallClientStream(ctx, callOpts...)
		if err != nil {
			return fail(err)
		}
		defer func() { _ = s.Close() }()
		if err := sendAll(s, data, decode); err != nil && !errors.Is(err, errStreamEnded) {
			return fail(err)
		}
		res, err := s.CloseAndRecv()
		if err != nil {
			return fail(err)
		}
		return out.Print(res)
	case spec.KindBidiStream:
		s, err := c.CallBidiStream(ctx, callOpts...)
		if err != nil {
			return fail(err)
		}
		defer func() { _ = s.Close() }()
		// Messages are sent as they are read (from a terminal, as they
		// are typed) while responses print as they arrive. When the
		// stream ends first, the reader may still wait on its input: it is
		// left behind, the command is over.
		var mu sync.Mutex
		var sendErr error
		go func() {
			err := sendAll(s, data, decode)
			if err == nil {
				err = s.CloseSend()
			}
			if err != nil && !errors.Is(err, errStreamEnded) {
				mu.Lock()
				sendErr = err
				mu.Unlock()
				_ = s.Close() // stop the stream: Recv returns
			}
		}()
		recvErr := receiveAll(s, out)
		mu.Lock()
		err = sendErr
		mu.Unlock()
		if err != nil {
			var de *DataError
			if errors.As(err, &de) || recvErr == nil || natsrpc.CodeOf(recvErr) == natsrpc.CodeCanceled {
				return fail(err)
			}
		}
		return fail(recvErr)
	}
	return fmt.Errorf("method %s has kind %v, which natsrpc call does not know", name, m.Kind)
}

// single reads the one request message of a method that takes one: none
// given means the empty message.
func single(m *schema.Method, data io.Reader, decode func(int, json.RawMessage) (proto.Message, error)) (proto.Message, error) {
	var req proto.Message
	count := 0
	if data != nil {
		err := Messages(data, func(n int, raw json.RawMessage) error {
			count = n
			if n > 1 {
				return &DataError{Err: fmt.Errorf("%s takes one request message (it is %s); -d holds more than one", strings.TrimPrefix(m.Procedure, "/"), m.Kind)}
			}
			var err error
			req, err = decode(n, raw)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if count == 0 {
		req = dynamicpb.NewMessage(m.Desc.Input())
	}
	return req, nil
}

// sendAll sends each message of data as it is read.
func sendAll(s *natsrpc.DynamicStream, data io.Reader, decode func(int, json.RawMessage) (proto.Message, error)) error {
	if data == nil {
		return nil
	}
	return Messages(data, func(n int, raw json.RawMessage) error {
		req, err := decode(n, raw)
		if err != nil {
			return err
		}
		if err := s.Send(req); err != nil {
			if errors.Is(err, io.EOF) {
				return errStreamEnded
			}
			return err
		}
		return nil
	})
}

// errStreamEnded stops sending when the service ended the stream; the
// receiving side reports the stream's status.
var errStreamEnded = errors.New("the service ended the stream")

// receiveAll prints every response until the end of the stream.
func receiveAll(s *natsrpc.DynamicStream, out *Printer) error {
	for {
		res, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := out.Print(res); err != nil {
			return err
		}
	}
}

// protoMessage returns a protobuf-go error's text without its "proto:"
// prefix, which protobuf-go follows with a space or, at random per build,
// a no-break space (so that nobody compares error strings).
func protoMessage(err error) string {
	return strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0")
}
