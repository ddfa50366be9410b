package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// The fast path serves the commonest call, a Connect unary POST in JSON or
// binary protobuf, without vanguard and connect-go in between: it reads
// the body, transcodes JSON to the protobuf wire format straight from the
// method's descriptors (package jsonwire, no dynamic message), calls the
// method on NATS, and writes the answer as the slow path writes it (the
// same status, Content-Type, headers and body; the tests compare the two).
// Anything else, and anything the transcoder declines (an unknown field,
// a spelling it does not read, a body it cannot decode), goes through
// vanguard as before, with the body as it came, so that every answer and
// every error stays what the slow path makes it.

// The Content-Type values the fast path writes, shared (net/http only
// reads them).
var (
	contentTypeJSON  = []string{"application/json"}
	contentTypeProto = []string{"application/proto"}
)

// bufPool holds request and response buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 1<<20 {
		return // do not keep a big body's buffer
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// replayBody hands the slow path a body whose start was already read.
type replayBody struct {
	io.Reader
	io.Closer
}

// fastUnary serves r when it is a Connect unary call the fast path takes,
// and reports whether it did; when it did not, r is as it came (its body
// replayed).
func (g *Gateway) fastUnary(w *statusRecorder, r *http.Request, rs *routeSet, obs *observation) bool {
	if g.cfg.noFastPath || r.Method != http.MethodPost || r.URL.RawQuery != "" {
		return false
	}
	rt := rs.routes[r.URL.Path]
	if rt == nil || rt.restOf != nil || rt.method.Kind != spec.KindUnary || rt.codec == nil {
		return false
	}
	h := r.Header
	var isJSON bool
	switch ct := h["Content-Type"]; {
	case len(ct) != 1:
		return false
	case ct[0] == "application/json" || ct[0] == "application/json; charset=utf-8":
		isJSON = true
	case ct[0] == "application/proto":
	default:
		return false
	}
	if v := h["Connect-Protocol-Version"]; len(v) != 1 || v[0] != "1" {
		return false
	}
	if ce := h.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return false
	}
	timeout, ok := connectTimeout(h["Connect-Timeout-Ms"])
	if !ok {
		return false
	}
	limit := g.factory.readMax
	if isJSON {
		limit *= 8 // as vanguard buffers JSON
	}
	bodyBuf := getBuf()
	body, complete, err := readAll(*bodyBuf, r.Body, limit, r.ContentLength)
	*bodyBuf = body
	if err != nil || !complete || len(body) == 0 {
		// Too large, empty, or broken: the slow path answers, with the
		// body as it came (the buffer goes with it).
		r.Body = replayBody{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		return false
	}
	wire := body
	var wireBuf *[]byte
	if isJSON {
		wireBuf = getBuf()
		wire, ok = rt.codec.ToWire((*wireBuf)[:0], rt.desc.Input(), body)
		*wireBuf = wire
		if !ok || len(wire) > g.factory.readMax {
			putBuf(wireBuf)
			r.Body = replayBody{bytes.NewReader(body), r.Body}
			return false
		}
	} else if len(wire) > g.factory.readMax {
		r.Body = replayBody{bytes.NewReader(body), r.Body}
		return false
	}
	defer putBuf(bodyBuf)
	if wireBuf != nil {
		defer putBuf(wireBuf)
	}
	obs.mu.Lock()
	obs.procedure = rt.procedure
	obs.mu.Unlock()
	g.fastCalls.Add(1)

	// One context for the deadline: the client's (capped by
	// --max-timeout) or the method's, as the slow path sets it in two.
	var ctx context.Context
	var cancel context.CancelFunc
	if timeout >= 0 {
		ctx, cancel = context.WithTimeout(r.Context(), min(timeout, g.factory.maxTimeout))
	} else {
		ctx, cancel = g.factory.deadline(r.Context(), rt)
	}
	defer cancel()
	var hdr nats.Header
	out, err := rt.client.CallUnaryBytes(ctx, wire, g.factory.callOptions(h, &hdr)...)
	if err != nil {
		ce := connectError(err)
		obs.done(ce)
		writeConnectUnaryError(w, ce, rt)
		return true
	}
	res := out
	ct := contentTypeProto
	var outBuf *[]byte
	if isJSON {
		ct = contentTypeJSON
		outBuf = getBuf()
		defer putBuf(outBuf)
		res, ok = rt.codec.ToJSON((*outBuf)[:0], rt.desc.Output(), out)
		*outBuf = res
		if !ok {
			if res, err = slowJSON(rt, out); err != nil {
				ce := connect.NewError(connect.CodeInternal, fmt.Errorf("the service's response is not a valid %s: %w", rt.desc.Output().FullName(), err))
				obs.done(ce)
				writeConnectUnaryError(w, ce, rt)
				return true
			}
		}
	}
	wh := w.Header()
	copyResponseHeader(wh, hdr)
	wh["Content-Type"] = ct
	if len(res) > 2048 {
		// net/http sets Content-Length itself (without allocating) for
		// an answer that fits its buffer, and would chunk a larger one.
		wh["Content-Length"] = []string{strconv.Itoa(len(res))}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res)
	obs.done(nil)
	return true
}

// connectTimeout reads Connect-Timeout-Ms: -1 when absent; ok is false
// for anything but 1 to 10 digits of a positive number, which the slow
// path answers.
func connectTimeout(v []string) (time.Duration, bool) {
	if len(v) == 0 {
		return -1, true
	}
	s := v[0]
	if len(v) != 1 || len(s) == 0 || len(s) > 10 {
		return 0, false
	}
	ms := int64(0)
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		ms = ms*10 + int64(s[i]-'0')
	}
	if ms == 0 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// readAll appends r's content to buf, up to limit bytes; complete is
// false when there was more.
func readAll(buf []byte, r io.Reader, limit int, hint int64) ([]byte, bool, error) {
	if hint > 0 && hint <= int64(limit) && int64(cap(buf)) < hint+1 {
		buf = make([]byte, 0, hint+1)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return buf, false, nil
		}
		if err == io.EOF {
			return buf, true, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
}

// slowJSON writes a response with protojson, for what jsonwire declines,
// with the options of the slow path's codec.
func slowJSON(rt *route, wire []byte) ([]byte, error) {
	m := dynamicpb.NewMessage(rt.desc.Output())
	res := typeResolver{rt.types}
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: res}).Unmarshal(wire, m); err != nil {
		return nil, err
	}
	return protojson.MarshalOptions{AllowPartial: true, Resolver: res}.Marshal(m)
}

// writeConnectUnaryError writes err as the slow path does: the error's
// metadata as headers, Connect's HTTP status and JSON error object, each
// detail with its JSON form under "debug" when this binary knows its type.
func writeConnectUnaryError(w http.ResponseWriter, err *connect.Error, rt *route) {
	h := w.Header()
	for k, vs := range err.Meta() {
		h[k] = append(h[k], vs...)
	}
	we := wireError{Code: err.Code().String(), Message: err.Message()}
	for _, d := range err.Details() {
		wd := wireDetail{Type: d.Type(), Value: base64.RawStdEncoding.EncodeToString(d.Bytes())}
		if msg, verr := d.Value(); verr == nil {
			if data, merr := (protojson.MarshalOptions{Resolver: typeResolver{rt.types}}).Marshal(msg); merr == nil {
				wd.Debug = data
			}
		}
		we.Details = append(we.Details, wd)
	}
	b, merr := json.Marshal(we)
	if merr != nil {
		b = []byte(`{"code":"internal","message":` + strconv.Quote("failed to marshal end error: "+merr.Error()) + `}`)
	}
	h["Content-Type"] = contentTypeJSON
	w.WriteHeader(httpStatus(err.Code()))
	_, _ = w.Write(b)
}

// wireError is Connect's JSON error object as vanguard writes it.
type wireError struct {
	Code    string       `json:"code"`
	Message string       `json:"message,omitempty"`
	Details []wireDetail `json:"details,omitempty"`
}

type wireDetail struct {
	Type  string          `json:"type"`
	Value string          `json:"value"`
	Debug json.RawMessage `json:"debug,omitempty"`
}
