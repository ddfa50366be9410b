package natsrpc

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Header names of the wire contract (docs/wire.md). NATS headers are
// case-sensitive; these are sent exactly as written.
const (
	headerContentType = "Content-Type"
	// headerTimeout carries the caller's remaining time in milliseconds.
	headerTimeout = "Nats-Rpc-Timeout"
	// headerCode carries the precise Code name of an error response.
	headerCode = "Nats-Rpc-Code"
	// reservedPrefix starts every header natsrpc defines.
	reservedPrefix = "Nats-Rpc-"

	contentTypeProto = "application/protobuf"
	contentTypeJSON  = "application/json"

	// maxTimeoutDigits bounds the timeout header (Connect-Timeout-Ms allows
	// ten digits too): about 115 days, far past any server maximum.
	maxTimeoutDigits = 10
	maxTimeoutMillis = 9_999_999_999

	// maxErrorMessage bounds the message sent in Nats-Service-Error, so a
	// huge error text cannot push the response past max_payload.
	maxErrorMessage = 4096

	typeURLPrefix = "type.googleapis.com/"
)

// codec is the body encoding of one message: binary protobuf or protojson.
type codec uint8

const (
	codecProto codec = iota
	codecJSON
)

var (
	jsonMarshal   = protojson.MarshalOptions{}
	jsonUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}
	protoMarshal  = proto.MarshalOptions{}
	// protoUnmarshal keeps unknown fields, so a handler built from an older
	// schema passes newer fields through when it echoes a message.
	protoUnmarshal = proto.UnmarshalOptions{}
)

// contentType is the Content-Type header value of c; empty for protobuf,
// which is the default and is not sent.
func (c codec) contentType() string {
	if c == codecJSON {
		return contentTypeJSON
	}
	return ""
}

// marshal appends m's encoding to b. A rawMessage's bytes are appended as
// they are when they are protobuf already.
func (c codec) marshal(b []byte, m proto.Message) ([]byte, error) {
	if r, ok := m.(*rawMessage); ok {
		return r.marshal(b, c)
	}
	if c == codecJSON {
		return jsonMarshal.MarshalAppend(b, m)
	}
	return protoMarshal.MarshalAppend(b, m)
}

// unmarshal decodes b into m. An empty body is the empty message in both
// encodings, so an empty `nats req` body works with JSON too.
func (c codec) unmarshal(b []byte, m proto.Message) error {
	if r, ok := m.(*rawMessage); ok {
		return r.unmarshal(b, c)
	}
	if len(b) == 0 {
		return nil
	}
	if c == codecJSON {
		return jsonUnmarshal.Unmarshal(b, m)
	}
	return protoUnmarshal.Unmarshal(b, m)
}

// parseContentType maps a Content-Type header value onto a codec. Absent
// means protobuf. Parameters ("; charset=utf-8") and case are ignored.
func parseContentType(v string) (codec, bool) {
	if v == "" {
		return codecProto, true
	}
	mt, _, _ := strings.Cut(v, ";")
	mt = strings.TrimSpace(mt)
	switch {
	case strings.EqualFold(mt, contentTypeJSON):
		return codecJSON, true
	case strings.EqualFold(mt, contentTypeProto),
		strings.EqualFold(mt, "application/x-protobuf"),
		strings.EqualFold(mt, "application/proto"):
		return codecProto, true
	}
	return codecProto, false
}

// timeoutMillis is d as the Nats-Rpc-Timeout value: whole milliseconds
// rounded up (so that a sub-millisecond remainder is not sent as an expired
// 0), at most ten digits.
func timeoutMillis(d time.Duration) int64 {
	ms := int64((d + time.Millisecond - 1) / time.Millisecond)
	return min(max(ms, 1), maxTimeoutMillis)
}

func encodeTimeout(d time.Duration) string {
	return strconv.FormatInt(timeoutMillis(d), 10)
}

// timeoutHeader caches the last Nats-Rpc-Timeout value a client sent. Calls
// without a deadline of their own all start with the same timeout, so
// they send the same value and share one immutable header slice.
type timeoutHeader struct {
	last atomic.Pointer[cachedTimeout]
}

type cachedTimeout struct {
	ms    int64
	value []string
}

func (t *timeoutHeader) value(d time.Duration) []string {
	ms := timeoutMillis(d)
	if c := t.last.Load(); c != nil && c.ms == ms {
		return c.value
	}
	c := &cachedTimeout{ms: ms, value: []string{strconv.FormatInt(ms, 10)}}
	t.last.Store(c)
	return c.value
}

// parseTimeout reads a Nats-Rpc-Timeout value: one to ten ASCII digits, in
// milliseconds. "0" is valid and means the caller has already given up.
func parseTimeout(v string) (time.Duration, bool) {
	if len(v) == 0 || len(v) > maxTimeoutDigits {
		return 0, false
	}
	var ms int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		ms = ms*10 + int64(c-'0')
	}
	return time.Duration(ms) * time.Millisecond, true
}

// isReservedHeader reports whether key belongs to the runtime: the
// Nats-Rpc- prefix, Content-Type (chosen with WithJSON), micro's error
// headers, and Status/Description (which nats.go reads as the status of a
// message, so a forged "Status: 503" would look like no responders). The
// comparison ignores case, so "nats-rpc-timeout" cannot slip through.
func isReservedHeader(key string) bool {
	if len(key) >= len(reservedPrefix) && strings.EqualFold(key[:len(reservedPrefix)], reservedPrefix) {
		return true
	}
	return strings.EqualFold(key, headerContentType) ||
		strings.EqualFold(key, micro.ErrorHeader) ||
		strings.EqualFold(key, micro.ErrorCodeHeader) ||
		strings.EqualFold(key, "Status") ||
		strings.EqualFold(key, "Description")
}

// validHeaderKey mirrors nats.go's rule (ADR-4): printable ASCII without
// the separators "()<>@,;:\"/[]?={}".
func validHeaderKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < 33 || c > 126 || strings.IndexByte("\"()/,:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// headerSize is the encoded size of h as nats.go sends it, so the client can
// check max_payload before sending.
func headerSize(h nats.Header) int {
	if len(h) == 0 {
		return 0
	}
	n := len("NATS/1.0\r\n") + len("\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(textproto.TrimString(v)) + 4
		}
	}
	return n
}

// checkRequestHeader rejects headers a caller (or a client interceptor) may
// not send.
func checkRequestHeader(h nats.Header) *Error {
	for k := range h {
		if isReservedHeader(k) {
			return errorf(CodeInvalidArgument, "header "+strconv.Quote(k)+" is reserved for the natsrpc runtime (reserved: the Nats-Rpc- prefix, Content-Type, Nats-Service-Error, Nats-Service-Error-Code, Status, Description)")
		}
		if !validHeaderKey(k) {
			return errorf(CodeInvalidArgument, "header key "+strconv.Quote(k)+" is not valid: use printable ASCII without separators")
		}
	}
	return nil
}

// sanitizeMessage makes an error message safe for a header value: no CR or
// LF, valid UTF-8, at most maxErrorMessage bytes.
func sanitizeMessage(msg string) string {
	if len(msg) > maxErrorMessage {
		cut := maxErrorMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	if strings.ContainsAny(msg, "\r\n") {
		msg = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(msg)
	}
	return strings.ToValidUTF8(strings.TrimSpace(msg), "\uFFFD")
}

// encodeError renders e as the headers and body of an error response for a
// request in codec c. The body is empty unless e has details: then it is a
// google.rpc.Status (binary) or Connect's JSON error object (for JSON).
func encodeError(e *Error, c codec) (nats.Header, []byte) {
	h := make(nats.Header, len(e.meta)+4)
	for k, vs := range e.meta {
		if !isReservedHeader(k) && validHeaderKey(k) {
			h[k] = vs
		}
	}
	msg := sanitizeMessage(e.Message())
	if msg == "" {
		// ADR-32 requires a description; the code name is the best one.
		msg = e.code.String()
	}
	h[micro.ErrorHeader] = []string{msg}
	h[micro.ErrorCodeHeader] = []string{strconv.Itoa(e.code.httpStatus())}
	h[headerCode] = []string{e.code.String()}
	if len(e.details) == 0 {
		return h, nil
	}
	if c == codecJSON {
		h[headerContentType] = []string{contentTypeJSON}
		return h, encodeJSONStatus(e, msg)
	}
	return h, encodeStatus(e, msg)
}

// encodeStatus renders a google.rpc.Status (code = 1, message = 2, details =
// 3) by hand, so the runtime needs no googleapis dependency while any
// language can decode the body with its own google.rpc.Status.
func encodeStatus(e *Error, msg string) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(e.code))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, msg)
	for _, d := range e.details {
		raw, err := protoMarshal.Marshal(d)
		if err != nil {
			continue
		}
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, raw)
	}
	return b
}

// decodeStatus reads the details of a google.rpc.Status body; anything it
// cannot parse is skipped, because the headers already carry the error.
func decodeStatus(b []byte) []*anypb.Any {
	var details []*anypb.Any
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return details
		}
		b = b[n:]
		if num == 3 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return details
			}
			a := &anypb.Any{}
			if err := protoUnmarshal.Unmarshal(v, a); err == nil {
				details = append(details, a)
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return details
		}
		b = b[m:]
	}
	return details
}

// jsonStatus is Connect's JSON error object.
type jsonStatus struct {
	Code    string       `json:"code"`
	Message string       `json:"message,omitempty"`
	Details []jsonDetail `json:"details,omitempty"`
}

type jsonDetail struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

func encodeJSONStatus(e *Error, msg string) []byte {
	s := jsonStatus{Code: e.code.String(), Message: msg}
	for _, d := range e.details {
		s.Details = append(s.Details, jsonDetail{
			Type:  strings.TrimPrefix(d.GetTypeUrl(), typeURLPrefix),
			Value: base64.RawStdEncoding.EncodeToString(d.GetValue()),
		})
	}
	b, _ := json.Marshal(s) // strings and slices only: cannot fail
	return b
}

func decodeJSONStatus(b []byte) []*anypb.Any {
	var s jsonStatus
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	var details []*anypb.Any
	for _, d := range s.Details {
		v, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(d.Value, "="))
		if err != nil || d.Type == "" {
			continue
		}
		url := d.Type
		if !strings.Contains(url, "/") {
			url = typeURLPrefix + url
		}
		details = append(details, &anypb.Any{TypeUrl: url, Value: v})
	}
	return details
}

// decodeError reads an error response; nil when msg is a success. It
// understands natsrpc's headers and, for plain micro services and other
// ports, a bare Nats-Service-Error-Code (numeric, or a code name in any
// case).
func decodeError(msg *nats.Msg) *Error {
	h := msg.Header
	if len(h) == 0 {
		return nil
	}
	rpcCode := h.Get(headerCode)
	svcCode := h.Get(micro.ErrorCodeHeader)
	if rpcCode == "" && svcCode == "" {
		return nil
	}
	code, ok := parseCode(rpcCode)
	switch {
	case ok && code != 0:
	case svcCode != "":
		code = codeFromServiceCode(svcCode)
	case ok: // a lone "Nats-Rpc-Code: ok"
		return nil
	default:
		code = CodeUnknown
	}
	e := &Error{code: code, meta: h, wire: true}
	if m := h.Get(micro.ErrorHeader); m != "" && m != code.String() {
		e.err = errors.New(m)
	}
	if len(msg.Data) > 0 {
		if c, _ := parseContentType(h.Get(headerContentType)); c == codecJSON {
			e.details = decodeJSONStatus(msg.Data)
		} else {
			e.details = decodeStatus(msg.Data)
		}
	}
	return e
}

// codeFromServiceCode maps a Nats-Service-Error-Code value onto a Code: a
// number through the HTTP table, a code name ("NOT_FOUND", "not_found") by
// name, anything else to CodeUnknown. It never returns 0: the header is
// only sent with errors.
func codeFromServiceCode(v string) Code {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		return codeFromHTTPStatus(n)
	}
	if c, ok := parseCode(strings.ToLower(v)); ok && c != 0 {
		return c
	}
	return CodeUnknown
}

// payloadLimit caches a connection's max_payload. nats.go guards
// Conn.MaxPayload with the connection's lock, which every publish also
// takes, so asking on every call makes 64 concurrent callers contend. The
// cache only lets through what nats.go itself checks again before sending
// (a limit lowered by a reconnect), and it is refreshed before a message is
// rejected (a limit raised by a reconnect).
type payloadLimit struct {
	nc    *nats.Conn
	limit atomic.Int64
}

// exceeded reports the limit when size is over it, or 0.
func (p *payloadLimit) exceeded(size int64) int64 {
	if l := p.limit.Load(); l > 0 && size <= l {
		return 0
	}
	l := p.nc.MaxPayload()
	p.limit.Store(l)
	if l > 0 && size > l {
		return l
	}
	return 0
}
