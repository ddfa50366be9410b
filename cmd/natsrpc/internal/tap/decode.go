package tap

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	natsrpc "github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/schema"
)

// Directions of a [Line].
const (
	DirRequest   = "request"    // a unary request or a stream's handshake (C→S)
	DirReply     = "reply"      // a unary reply (S→C)
	DirEvent     = "event"      // an event (C→S)
	DirAck       = "ack"        // JetStream's acknowledgement of a durable event
	DirOpen      = "open"       // the service accepted a stream
	DirClientMsg = "client-msg" // a stream message C→S
	DirServerMsg = "server-msg" // a stream message S→C
	DirClientEnd = "client-end" // the client sends no more (half-close)
	DirEnd       = "end"        // the stream's end, with its status
	DirCancel    = "cancel"     // the client gave up the stream
)

// Line is one printed event of the traffic.
type Line struct {
	Time      time.Time `json:"time"`
	Subject   string    `json:"subject"`
	Method    string    `json:"method"`
	Direction string    `json:"direction"`
	// LatencyUS is the time since the request or handshake, in
	// microseconds; absent on requests and events.
	LatencyUS *int64 `json:"latency_us,omitempty"`
	// Code is "ok" or the error code name of replies, acks and ends.
	Code string `json:"code,omitempty"`
	// Body is the message as protojson, or for errors
	// {"message": ..., "details": ...}.
	Body json.RawMessage `json:"body,omitempty"`
	// BodyLength, BodyBase64 and Undecodable describe a body that could
	// not be decoded, and why.
	BodyLength  int    `json:"body_length,omitempty"`
	BodyBase64  string `json:"body_base64,omitempty"`
	Undecodable string `json:"undecodable,omitempty"`
}

// call is a unary request (or a durable event's publish) waiting for its
// reply.
type call struct {
	m       *method
	start   time.Time
	expires time.Time
	json    bool
	ack     bool
}

// stream is a stream whose handshake tap saw.
type stream struct {
	m       *method
	start   time.Time
	last    time.Time
	json    bool
	inbox   string
	control string
}

// maxTracked bounds the calls and streams tap follows at once.
const maxTracked = 100_000

// decoder follows calls and streams and prints their lines. handle and
// purge run on one goroutine; setMethods on another.
type decoder struct {
	out     io.Writer
	compact bool
	own     string

	mu      sync.Mutex
	methods map[string]*method

	pending  map[string]*call
	streams  map[string]*stream // by the client's inbox
	controls map[string]*stream // by the service's control inbox
}

func newDecoder(out io.Writer, compact bool, own string) *decoder {
	return &decoder{out: out, compact: compact, own: own, methods: map[string]*method{}, pending: map[string]*call{}, streams: map[string]*stream{}, controls: map[string]*stream{}}
}

func (d *decoder) setMethods(subs map[string]*watched) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.methods = make(map[string]*method, len(subs))
	for s, w := range subs {
		d.methods[s] = w.m
	}
}

// handle takes one message of any subscription.
func (d *decoder) handle(msg *nats.Msg, now time.Time) {
	if d.own != "" && (strings.HasPrefix(msg.Subject, d.own) || strings.HasPrefix(msg.Reply, d.own)) {
		return // tap's own discovery and lookups
	}
	d.mu.Lock()
	m := d.methods[msg.Subject]
	d.mu.Unlock()
	switch {
	case m != nil:
		d.request(m, msg, now)
	case d.pending[msg.Subject] != nil:
		c := d.pending[msg.Subject]
		delete(d.pending, msg.Subject)
		d.reply(c, msg, now)
	case d.streams[msg.Subject] != nil:
		d.serverFrame(d.streams[msg.Subject], msg, now)
	case d.controls[msg.Subject] != nil:
		d.clientFrame(d.controls[msg.Subject], msg, now)
	}
	// Anything else on the inboxes answers a call tap did not see.
}

func isJSON(h nats.Header) bool {
	ct, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/json")
}

func (m *method) kindName() string {
	if m.m != nil {
		return m.m.Kind.String()
	}
	return m.kind
}

func (d *decoder) request(m *method, msg *nats.Msg, now time.Time) {
	kind := m.kindName()
	js := isJSON(msg.Header)
	l := Line{Time: now, Subject: msg.Subject, Method: m.name, Direction: DirRequest}
	switch kind {
	case "event":
		l.Direction = DirEvent
		if msg.Reply != "" && len(d.pending) < maxTracked {
			d.pending[msg.Reply] = &call{m: m, start: now, expires: now.Add(time.Minute), ack: true}
		}
	case "server_stream", "client_stream", "bidi_stream":
		if msg.Reply != "" && len(d.streams) < maxTracked {
			d.streams[msg.Reply] = &stream{m: m, start: now, last: now, json: js, inbox: msg.Reply}
		}
		if kind != "server_stream" {
			d.print(l) // the messages follow as frames
			return
		}
	default:
		if msg.Reply != "" && len(d.pending) < maxTracked {
			d.pending[msg.Reply] = &call{m: m, start: now, expires: now.Add(deadline(msg.Header)), json: js}
		}
	}
	d.msgBody(&l, m, true, msg, js)
	d.print(l)
}

// deadline is how long a caller waits: its Nats-Rpc-Timeout, or the
// longest a natsrpc service lets a request run.
func deadline(h nats.Header) time.Duration {
	if ms, err := strconv.ParseUint(h.Get("Nats-Rpc-Timeout"), 10, 32); err == nil && ms > 0 {
		return time.Duration(ms)*time.Millisecond + time.Second
	}
	return 2 * time.Minute
}

func latency(start, now time.Time) *int64 {
	us := now.Sub(start).Microseconds()
	return &us
}

func (d *decoder) reply(c *call, msg *nats.Msg, now time.Time) {
	l := Line{Time: now, Subject: c.m.subject, Method: c.m.name, Direction: DirReply, LatencyUS: latency(c.start, now)}
	if c.ack {
		l.Direction = DirAck
		var ack struct {
			Error *struct {
				Description string `json:"description"`
			} `json:"error"`
		}
		l.Code = "ok"
		if json.Unmarshal(msg.Data, &ack) != nil {
			l.Code = replyCode(msg.Header)
		} else if ack.Error != nil {
			l.Code = "error"
		}
		var b bytes.Buffer
		if json.Compact(&b, msg.Data) == nil {
			l.Body = b.Bytes()
		}
		d.print(l)
		return
	}
	l.Code = replyCode(msg.Header)
	if l.Code != "ok" {
		l.Body = errorBody(msg.Header)
	} else {
		d.msgBody(&l, c.m, false, msg, c.json || isJSON(msg.Header))
	}
	d.print(l)
}

// serverFrame is a frame S→C, on the client's inbox.
func (d *decoder) serverFrame(s *stream, msg *nats.Msg, now time.Time) {
	s.last = now
	l := Line{Time: now, Subject: s.m.subject, Method: s.m.name, LatencyUS: latency(s.start, now)}
	if len(msg.Header) == 0 {
		l.Direction = DirServerMsg
		d.frameBody(&l, s, false, msg.Data)
		d.print(l)
		return
	}
	switch msg.Header.Get("Nats-Rpc-Frame") {
	case "":
		if msg.Header.Get("Status") != "" {
			return // a NATS status (no responders): not a frame
		}
		l.Direction = DirServerMsg
		d.msgBody(&l, s.m, false, msg, s.json)
	case "open":
		l.Direction = DirOpen
		if c := msg.Header.Get("Nats-Rpc-Control"); c != "" && len(d.controls) < maxTracked {
			if s.control != "" {
				delete(d.controls, s.control) // a second open frame: follow the newer inbox only
			}
			s.control = c
			d.controls[c] = s
		}
	case "end":
		l.Direction = DirEnd
		l.Code = replyCode(msg.Header)
		if l.Code != "ok" {
			l.Body = errorBody(msg.Header)
		}
		d.forget(s)
	default:
		return // heartbeats and credit
	}
	d.print(l)
}

// clientFrame is a frame C→S, on the service's control inbox.
func (d *decoder) clientFrame(s *stream, msg *nats.Msg, now time.Time) {
	s.last = now
	l := Line{Time: now, Subject: s.m.subject, Method: s.m.name, LatencyUS: latency(s.start, now)}
	if len(msg.Header) == 0 {
		l.Direction = DirClientMsg
		d.frameBody(&l, s, true, msg.Data)
		d.print(l)
		return
	}
	switch msg.Header.Get("Nats-Rpc-Frame") {
	case "":
		l.Direction = DirClientMsg
		d.msgBody(&l, s.m, true, msg, s.json)
	case "end":
		l.Direction = DirClientEnd
	case "cancel":
		l.Direction = DirCancel
		d.forget(s)
	default:
		return
	}
	d.print(l)
}

func (d *decoder) forget(s *stream) {
	delete(d.streams, s.inbox)
	if s.control != "" {
		delete(d.controls, s.control)
	}
}

// frameBody decodes a compact data frame: the sequence number as a
// varint, then the message.
func (d *decoder) frameBody(l *Line, s *stream, input bool, data []byte) {
	_, n := protowire.ConsumeVarint(data)
	if n < 0 {
		raw(l, data, "a compact data frame without its sequence number")
		return
	}
	d.body(l, s.m, input, data[n:], s.json)
}

// msgBody decodes the body of a message that may carry headers: a
// compressed one (Nats-Rpc-Encoding, wire §15) is decompressed first.
func (d *decoder) msgBody(l *Line, m *method, input bool, msg *nats.Msg, js bool) {
	data, err := natsrpc.DecodeBody(msg.Header, msg.Data)
	if err != nil {
		raw(l, msg.Data, err.Error())
		return
	}
	d.body(l, m, input, data, js)
}

// body decodes a message of the method's input or output type.
func (d *decoder) body(l *Line, m *method, input bool, data []byte, js bool) {
	if m.m == nil {
		raw(l, data, fmt.Sprintf("no descriptors for %s: %v", m.subject, m.err))
		return
	}
	md := m.m.Desc.Output()
	if input {
		md = m.m.Desc.Input()
	}
	b, err := decodeMessage(md, m.m.Types, data, js)
	if err != nil {
		raw(l, data, err.Error())
		return
	}
	l.Body = b
}

// decodeMessage decodes data, binary or protojson, as a message of md and
// returns it as compact protojson.
func decodeMessage(md protoreflect.MessageDescriptor, types schema.Resolver, data []byte, js bool) ([]byte, error) {
	msg := dynamicpb.NewMessage(md)
	var err error
	if js {
		err = protojson.UnmarshalOptions{Resolver: types}.Unmarshal(data, msg)
	} else {
		err = proto.UnmarshalOptions{Resolver: types}.Unmarshal(data, msg)
	}
	if err != nil {
		return nil, fmt.Errorf("not a %s: %s", md.FullName(), strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0"))
	}
	b, err := protojson.MarshalOptions{Resolver: types}.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("a %s that protojson cannot print: %s", md.FullName(), strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0"))
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		return nil, err
	}
	return c.Bytes(), nil
}

func raw(l *Line, data []byte, reason string) {
	l.BodyLength = len(data)
	l.BodyBase64 = base64.StdEncoding.EncodeToString(data)
	l.Undecodable = reason
	if l.BodyLength == 0 {
		l.BodyBase64 = ""
	}
}

// replyCode returns a reply's or end frame's code, as wire.md §5 says a
// client reads it.
func replyCode(h nats.Header) string {
	if c := h.Get("Nats-Rpc-Code"); c != "" {
		return c
	}
	c := h.Get("Nats-Service-Error-Code")
	if c == "" {
		if h.Get("Status") == "503" {
			return "unavailable"
		}
		return "ok"
	}
	switch c {
	case "400":
		return "invalid_argument"
	case "401":
		return "unauthenticated"
	case "403":
		return "permission_denied"
	case "404":
		return "not_found"
	case "408", "504":
		return "deadline_exceeded"
	case "409":
		return "aborted"
	case "412":
		return "failed_precondition"
	case "413", "429":
		return "resource_exhausted"
	case "499":
		return "canceled"
	case "501":
		return "unimplemented"
	case "502", "503":
		return "unavailable"
	}
	if _, err := strconv.Atoi(c); err != nil {
		return strings.ToLower(c)
	}
	return "unknown"
}

// errorBody is the body shown for an error: its message.
func errorBody(h nats.Header) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"message": h.Get("Nats-Service-Error")})
	return b
}

// purge forgets calls whose callers stopped waiting and streams idle for
// two minutes (their ends were lost, or tap missed them).
func (d *decoder) purge(now time.Time) {
	for k, c := range d.pending {
		if now.After(c.expires) {
			delete(d.pending, k)
		}
	}
	for _, s := range d.streams {
		if now.Sub(s.last) > 2*time.Minute {
			d.forget(s)
		}
	}
}

// print writes one line: text, or a JSON document with Compact.
func (d *decoder) print(l Line) {
	var b []byte
	if d.compact {
		l.Time = l.Time.UTC()
		b, _ = json.Marshal(l)
		b = append(b, '\n')
	} else {
		b = []byte(l.Text() + "\n")
	}
	_, _ = d.out.Write(b)
}

// Text returns the line as tap prints it without --format json: time,
// subject, method, direction, latency, code and body, "-" for what does
// not apply.
func (l Line) Text() string {
	lat, code := "-", "-"
	if l.LatencyUS != nil {
		lat = (time.Duration(*l.LatencyUS) * time.Microsecond).String()
	}
	if l.Code != "" {
		code = l.Code
	}
	body := "-"
	switch {
	case l.Undecodable != "":
		body = fmt.Sprintf("<%d bytes base64:%s> (%s)", l.BodyLength, l.BodyBase64, l.Undecodable)
	case len(l.Body) > 0:
		body = string(l.Body)
	}
	return strings.Join([]string{l.Time.Format("15:04:05.000000"), l.Subject, l.Method, l.Direction, lat, code, body}, " ")
}
