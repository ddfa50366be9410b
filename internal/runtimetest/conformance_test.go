package runtimetest

// The conformance suite for docs/wire.md: the language-neutral cases of
// testdata/conformance (see its README.md), run here against the Go
// runtime with a real nats-server, and by the TypeScript runtime's tests
// (ts/test/conformance.test.ts) against the TypeScript one. A scripted peer
// on a raw connection plays the other side of each case.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// confDir holds the cases, shared with the TypeScript suite.
const confDir = "../../testdata/conformance/"

// readCases reads one case file into doc.
func readCases(t *testing.T, name string, doc any) {
	t.Helper()
	b, err := os.ReadFile(confDir + name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a misspelt key must not make a case pass vacuously
	if err := dec.Decode(doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// confMessage decodes a case's protojson message as fullName.
func confMessage(t *testing.T, fullName string, raw json.RawMessage) proto.Message {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(fullName))
	if err != nil {
		t.Fatalf("message type %q: %v", fullName, err)
	}
	m := mt.New().Interface()
	if len(raw) > 0 {
		if err := protojson.Unmarshal(raw, m); err != nil {
			t.Fatalf("case message %s as %q: %v", raw, fullName, err)
		}
	}
	return m
}

// confBody is a case's message body: "message" (protobuf encoding of the
// protojson given), "json" (the text as it is) or "base64" (raw bytes).
type confBody struct {
	Message json.RawMessage `json:"message,omitempty"`
	JSON    *string         `json:"json,omitempty"`
	Base64  *string         `json:"base64,omitempty"`
}

func (b confBody) bytes(t *testing.T, fullName string, asJSON bool) []byte {
	t.Helper()
	switch {
	case b.JSON != nil:
		return []byte(*b.JSON)
	case b.Base64 != nil:
		raw, err := base64.StdEncoding.DecodeString(*b.Base64)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	case b.Message != nil:
		m := confMessage(t, fullName, b.Message)
		var out []byte
		var err error
		if asJSON {
			out, err = protojson.Marshal(m)
		} else {
			out, err = proto.Marshal(m)
		}
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return nil
}

// confDetail is an error detail: a message type and its protojson value.
type confDetail struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

func (d confDetail) any(t *testing.T) *anypb.Any {
	t.Helper()
	a, err := anypb.New(confMessage(t, d.Type, d.Value))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// checkDetails compares received details with the case's.
func checkDetails(t *testing.T, got []*anypb.Any, want []confDetail) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d details; want %d", len(got), len(want))
		return
	}
	for i, w := range want {
		if name := string(got[i].MessageName()); name != w.Type {
			t.Errorf("detail %d is %q; want %q", i, name, w.Type)
			continue
		}
		m, err := got[i].UnmarshalNew()
		if err != nil {
			t.Errorf("detail %d: %v", i, err)
			continue
		}
		if wm := confMessage(t, w.Type, w.Value); !proto.Equal(m, wm) {
			t.Errorf("detail %d = %v; want %v", i, m, wm)
		}
	}
}

// checkHeaders checks exact values, absent names and present names.
func checkHeaders(t *testing.T, what string, h nats.Header, want map[string]string, absent, present []string) {
	t.Helper()
	for k, v := range want {
		if got := h.Get(k); got != v || len(h.Values(k)) == 0 {
			t.Errorf("%s header %q = %q; want %q", what, k, got, v)
		}
	}
	for _, k := range absent {
		if vs := h.Values(k); len(vs) > 0 {
			t.Errorf("%s header %q = %q; want it absent", what, k, vs)
		}
	}
	for _, k := range present {
		if h.Get(k) == "" {
			t.Errorf("%s header %q is missing", what, k)
		}
	}
}

// publicHeaders is h without the runtime's reserved headers, as first
// values.
func publicHeaders(h nats.Header) map[string]string {
	out := map[string]string{}
	for k, vs := range h {
		l := strings.ToLower(k)
		if strings.HasPrefix(l, "nats-rpc-") || l == "content-type" || l == "nats-service-error" || l == "nats-service-error-code" || l == "status" || l == "description" {
			continue
		}
		out[k] = vs[0]
	}
	return out
}

// decodeStatusBody reads a binary google.rpc.Status by hand (the root
// module has no googleapis dependency).
func decodeStatusBody(t *testing.T, b []byte) (code int, msg string, details []*anypb.Any) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("status body: bad tag")
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			code, b = int(v), b[m:]
		case num == 2 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			msg, b = string(v), b[m:]
		case num == 3 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			a := &anypb.Any{}
			if err := proto.Unmarshal(v, a); err != nil {
				t.Fatalf("status detail: %v", err)
			}
			details, b = append(details, a), b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				t.Fatalf("status body: bad field %d", num)
			}
			b = b[m:]
		}
	}
	return code, msg, details
}

// encodeStatusBody writes a binary google.rpc.Status.
func encodeStatusBody(t *testing.T, s *confStatus) []byte {
	t.Helper()
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(s.Code))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, s.Message)
	for _, d := range s.Details {
		raw, err := proto.Marshal(d.any(t))
		if err != nil {
			t.Fatal(err)
		}
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, raw)
	}
	return b
}

type confStatus struct {
	Code    int          `json:"code"`
	Message string       `json:"message"`
	Details []confDetail `json:"details"`
}

type confConnectError struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Details []confDetail `json:"details"`
	// Padding: the scripted peer's base64 has padding (for the client
	// cases; the service may send either).
	Padding bool `json:"padding,omitempty"`
}

func encodeConnectError(t *testing.T, e *confConnectError) []byte {
	t.Helper()
	type detail struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	out := struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Details []detail `json:"details"`
	}{Code: e.Code, Message: e.Message}
	enc := base64.RawStdEncoding
	if e.Padding {
		enc = base64.StdEncoding
	}
	for _, d := range e.Details {
		a := d.any(t)
		out.Details = append(out.Details, detail{Type: string(a.MessageName()), Value: enc.EncodeToString(a.GetValue())})
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkConnectError(t *testing.T, body []byte, want *confConnectError) {
	t.Helper()
	var got struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"details"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("Connect error body %q: %v", body, err)
	}
	if got.Code != want.Code || got.Message != want.Message {
		t.Errorf("Connect error = %q %q; want %q %q", got.Code, got.Message, want.Code, want.Message)
	}
	var details []*anypb.Any
	for _, d := range got.Details {
		v, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(d.Value, "="))
		if err != nil {
			t.Fatalf("detail value %q: %v", d.Value, err)
		}
		details = append(details, &anypb.Any{TypeUrl: "type.googleapis.com/" + d.Type, Value: v})
	}
	checkDetails(t, details, want.Details)
}

// ---- the service side of unary calls ----

type unaryServiceCases struct {
	Comment string             `json:"comment"`
	Service string             `json:"service"`
	Method  string             `json:"method"`
	Cases   []unaryServiceCase `json:"cases"`
}

type unaryServiceCase struct {
	Name string `json:"name"`
	Wire string `json:"wire"`
	// Requires names optional features of the contract the case checks
	// ("compression", §15); the Go runtime has them all, other runtimes
	// skip the cases of features they do not implement.
	Requires []string       `json:"requires"`
	Handler  *confBehaviour `json:"handler"`
	Request  struct {
		Headers map[string]string `json:"headers"`
		confBody
	} `json:"request"`
	Expect struct {
		NoReply       bool              `json:"noReply"`
		Headers       map[string]string `json:"headers"`
		AbsentHeaders []string          `json:"absentHeaders"`
		HeaderBytes   map[string]int    `json:"headerBytes"`
		ErrorContains string            `json:"errorContains"`
		EmptyBody     bool              `json:"emptyBody"`
		Message       json.RawMessage   `json:"message"`
		LevelBetween  []int32           `json:"levelBetween"`
		Status        *confStatus       `json:"status"`
		ConnectError  *confConnectError `json:"connectError"`
		// BodyBytesBelow bounds the body's size on the wire.
		BodyBytesBelow int `json:"bodyBytesBelow"`
	} `json:"expect"`
}

// confBehaviour is what the conformance handler does for a case; the
// request's id names the case.
type confBehaviour struct {
	Respond             json.RawMessage   `json:"respond"`
	RespondSummaryBytes int               `json:"respondSummaryBytes"`
	EchoOwner           bool              `json:"echoOwner"`
	ReportDeadline      bool              `json:"reportDeadline"`
	WaitForDeadline     bool              `json:"waitForDeadline"`
	ResponseHeaders     map[string]string `json:"responseHeaders"`
	EchoHeaders         []string          `json:"echoHeaders"`
	Throw               string            `json:"throw"`
	Panic               string            `json:"panic"`
	Nothing             bool              `json:"nothing"`
	Error               *struct {
		Code          json.RawMessage `json:"code"`
		Message       string          `json:"message"`
		MessageRepeat *struct {
			Text   string `json:"text"`
			Count  int    `json:"count"`
			Suffix string `json:"suffix"`
		} `json:"messageRepeat"`
		Details  []confDetail      `json:"details"`
		Metadata map[string]string `json:"metadata"`
	} `json:"error"`
}

// conformanceHandler serves TestService.Get as the cases' handler
// behaviours say; a request naming no case gets an "unscripted" item.
func conformanceHandler(t *testing.T, behaviours map[string]*confBehaviour) natsrpc.Handler {
	return getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		b := behaviours[req.GetId()]
		if b == nil {
			return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: req.GetId(), Title: "unscripted"}}, nil
		}
		ci, _ := natsrpc.CallInfoFromContext(ctx)
		for k, v := range b.ResponseHeaders {
			ci.ResponseHeader().Set(k, v)
		}
		for _, k := range b.EchoHeaders {
			ci.ResponseHeader().Set("Echo-"+k, ci.RequestHeader().Get(k))
		}
		switch {
		case b.WaitForDeadline:
			<-ctx.Done()
			return nil, ctx.Err()
		case b.Panic != "":
			panic(b.Panic)
		case b.Throw != "":
			return nil, errors.New(b.Throw)
		case b.Nothing:
			return nil, nil
		case b.Error != nil:
			var code natsrpc.Code
			if n, err := strconv.Atoi(string(b.Error.Code)); err == nil {
				code = natsrpc.Code(n)
			} else {
				var name string
				if err := json.Unmarshal(b.Error.Code, &name); err != nil {
					panic(err)
				}
				if err := code.UnmarshalText([]byte(name)); err != nil {
					panic(err)
				}
			}
			msg := b.Error.Message
			if r := b.Error.MessageRepeat; r != nil {
				msg = strings.Repeat(r.Text, r.Count) + r.Suffix
			}
			var cause error
			if msg != "" {
				cause = errors.New(msg)
			}
			e := natsrpc.NewError(code, cause)
			for _, d := range b.Error.Details {
				if err := e.AddDetail(d.any(t)); err != nil {
					panic(err)
				}
			}
			for k, v := range b.Error.Metadata {
				e.Meta().Set(k, v)
			}
			return nil, e
		}
		res := &natsrpctestv1.GetResponse{}
		if b.Respond != nil {
			if err := protojson.Unmarshal(b.Respond, res); err != nil {
				panic(err)
			}
		}
		switch {
		case b.RespondSummaryBytes > 0:
			res.Item = &natsrpctestv1.Item{Summary: strings.Repeat("x", b.RespondSummaryBytes)}
		case b.EchoOwner:
			res.Item = &natsrpctestv1.Item{Id: req.GetId(), Title: req.GetOwnerId()}
		case b.ReportDeadline:
			dl, _ := ctx.Deadline()
			res.Item = &natsrpctestv1.Item{Level: int32(time.Until(dl).Milliseconds())}
		}
		return res, nil
	})
}

// TestConformanceUnaryService runs testdata/conformance/unary_service.json:
// raw requests against a Go service whose handler behaves as each case
// says.
func TestConformanceUnaryService(t *testing.T) {
	t.Parallel()
	var doc unaryServiceCases
	readCases(t, "unary_service.json", &doc)
	behaviours := map[string]*confBehaviour{}
	for _, c := range doc.Cases {
		if c.Handler != nil {
			behaviours[c.Name] = c.Handler
		}
	}
	_, client, service := testConns(t)
	// The service compresses responses of 1 KiB and more for callers that
	// announce S2, as the compression cases say (wire.md §15).
	testService(t, service, []natsrpc.Handler{conformanceHandler(t, behaviours)}, natsrpc.WithCompression(1024))
	subject := getItemSubject
	for _, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			h := nats.Header{}
			asJSON := false
			for k, v := range c.Request.Headers {
				h.Set(k, v)
				if strings.EqualFold(k, "Content-Type") && strings.Contains(strings.ToLower(v), "json") {
					asJSON = true
				}
			}
			body := c.Request.bytes(t, "natsrpctest.v1.GetRequest", asJSON)
			msg := &nats.Msg{Subject: subject, Header: h, Data: body}
			if c.Expect.NoReply {
				inbox := client.NewInbox()
				sub, err := client.SubscribeSync(inbox)
				if err != nil {
					t.Fatal(err)
				}
				defer sub.Unsubscribe()
				msg.Reply = inbox
				if err := client.PublishMsg(msg); err != nil {
					t.Fatal(err)
				}
				if m, err := sub.NextMsg(300 * time.Millisecond); err == nil {
					t.Fatalf("got a reply %v %q; want none", m.Header, m.Data)
				}
				return
			}
			resp, err := client.RequestMsg(msg, 3*time.Second)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			e := c.Expect
			checkHeaders(t, "reply", resp.Header, e.Headers, e.AbsentHeaders, nil)
			for k, n := range e.HeaderBytes {
				if got := len(resp.Header.Get(k)); got != n {
					t.Errorf("reply header %q is %d bytes; want %d", k, got, n)
				}
			}
			if e.ErrorContains != "" && !strings.Contains(resp.Header.Get("Nats-Service-Error"), e.ErrorContains) {
				t.Errorf("Nats-Service-Error = %q; want it to mention %q", resp.Header.Get("Nats-Service-Error"), e.ErrorContains)
			}
			if e.EmptyBody && len(resp.Data) > 0 {
				t.Errorf("reply body = %q; want it empty", resp.Data)
			}
			if n := e.BodyBytesBelow; n > 0 && len(resp.Data) >= n {
				t.Errorf("reply body is %d bytes on the wire; want fewer than %d", len(resp.Data), n)
			}
			// A body marked Nats-Rpc-Encoding must decode (§15), whatever
			// the case checks.
			data := resp.Data
			if enc := resp.Header.Get("Nats-Rpc-Encoding"); enc != "" {
				if enc != "s2" {
					t.Fatalf("reply Nats-Rpc-Encoding = %q; want s2 or none", enc)
				}
				var derr error
				if data, derr = s2.Decode(nil, resp.Data); derr != nil {
					t.Fatalf("reply marked s2 does not decode: %v", derr)
				}
				if err := proto.Unmarshal(data, &natsrpctestv1.GetResponse{}); err != nil {
					t.Fatalf("reply marked s2 decodes to %d bytes that are not a GetResponse: %v", len(data), err)
				}
			}
			if e.Message != nil || e.LevelBetween != nil {
				got := &natsrpctestv1.GetResponse{}
				var err error
				if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
					err = protojson.Unmarshal(data, got)
				} else {
					err = proto.Unmarshal(data, got)
				}
				if err != nil {
					t.Fatalf("decode reply %q: %v", resp.Data, err)
				}
				if e.Message != nil {
					if want := confMessage(t, "natsrpctest.v1.GetResponse", e.Message); !proto.Equal(got, want) {
						t.Errorf("reply = %v; want %v", got, want)
					}
				}
				if r := e.LevelBetween; r != nil {
					if l := got.GetItem().GetLevel(); l < r[0] || l > r[1] {
						t.Errorf("handler saw %d ms left; want %d to %d", l, r[0], r[1])
					}
				}
			}
			if s := e.Status; s != nil {
				code, m, details := decodeStatusBody(t, resp.Data)
				if code != s.Code || m != s.Message {
					t.Errorf("status = %d %q; want %d %q", code, m, s.Code, s.Message)
				}
				checkDetails(t, details, s.Details)
			}
			if ce := e.ConnectError; ce != nil {
				checkConnectError(t, resp.Data, ce)
			}
		})
	}
}

// ---- the client side of unary calls ----

type confRequestExpect struct {
	Subject        string            `json:"subject"`
	NoReply        bool              `json:"noReply"`
	Headers        map[string]string `json:"headers"`
	AbsentHeaders  []string          `json:"absentHeaders"`
	PresentHeaders []string          `json:"presentHeaders"`
	TimeoutBetween []int             `json:"timeoutBetween"`
	ReplySubject   bool              `json:"replySubject"`
	Message        json.RawMessage   `json:"message"`
	JSON           json.RawMessage   `json:"json"`
}

// check compares a request the client sent with the case's expectations.
func (e *confRequestExpect) check(t *testing.T, m *nats.Msg, fullName string) {
	t.Helper()
	if e == nil {
		return
	}
	if e.Subject != "" && m.Subject != e.Subject {
		t.Errorf("request subject = %q; want %q", m.Subject, e.Subject)
	}
	if e.NoReply && m.Reply != "" {
		t.Errorf("request has reply subject %q; want none", m.Reply)
	}
	if e.ReplySubject && m.Reply == "" {
		t.Errorf("request has no reply subject")
	}
	checkHeaders(t, "request", m.Header, e.Headers, e.AbsentHeaders, e.PresentHeaders)
	if r := e.TimeoutBetween; r != nil {
		v := m.Header.Get("Nats-Rpc-Timeout")
		n, err := strconv.Atoi(v)
		if err != nil || n < r[0] || n > r[1] {
			t.Errorf("Nats-Rpc-Timeout = %q; want %d to %d", v, r[0], r[1])
		}
	}
	if e.Message != nil {
		got := confMessage(t, fullName, nil)
		if err := proto.Unmarshal(m.Data, got); err != nil {
			t.Fatalf("request body %q: %v", m.Data, err)
		}
		if want := confMessage(t, fullName, e.Message); !proto.Equal(got, want) {
			t.Errorf("request = %v; want %v", got, want)
		}
	}
	if e.JSON != nil {
		got := confMessage(t, fullName, nil)
		if err := protojson.Unmarshal(m.Data, got); err != nil {
			t.Fatalf("request body %q is not protojson: %v", m.Data, err)
		}
		if want := confMessage(t, fullName, e.JSON); !proto.Equal(got, want) {
			t.Errorf("request = %v; want %v", got, want)
		}
	}
}

// confReply is what a scripted peer answers.
type confReply struct {
	Headers map[string]string `json:"headers"`
	confBody
	Status       *confStatus       `json:"status"`
	ConnectError *confConnectError `json:"connectError"`
}

func (r *confReply) msg(t *testing.T, fullName string) *nats.Msg {
	t.Helper()
	m := &nats.Msg{Header: nats.Header{}}
	asJSON := false
	for k, v := range r.Headers {
		m.Header.Set(k, v)
		if strings.EqualFold(k, "Content-Type") && strings.Contains(v, "json") {
			asJSON = true
		}
	}
	switch {
	case r.Status != nil:
		m.Data = encodeStatusBody(t, r.Status)
	case r.ConnectError != nil:
		m.Data = encodeConnectError(t, r.ConnectError)
	default:
		m.Data = r.bytes(t, fullName, asJSON)
	}
	return m
}

type confCallExpect struct {
	Code            string            `json:"code"`
	ErrorMessage    *string           `json:"errorMessage"`
	Details         []confDetail      `json:"details"`
	Metadata        map[string]string `json:"metadata"`
	Wire            *bool             `json:"wire"`
	ResponseHeaders map[string]string `json:"responseHeaders"`
}

// json.RawMessage message of a success; errors are compared by code,
// message, details, metadata and wire.
func (e *confCallExpect) checkError(t *testing.T, err error) {
	t.Helper()
	if got := natsrpc.CodeOf(err).String(); got != e.Code {
		t.Fatalf("code = %s (%v); want %s", got, err, e.Code)
	}
	if err == nil {
		return
	}
	var ne *natsrpc.Error
	if !errors.As(err, &ne) {
		t.Fatalf("error %T is not a *natsrpc.Error", err)
	}
	if e.ErrorMessage != nil && ne.Message() != *e.ErrorMessage {
		t.Errorf("error message = %q; want %q", ne.Message(), *e.ErrorMessage)
	}
	if e.Details != nil {
		checkDetails(t, ne.Details(), e.Details)
	}
	for k, v := range e.Metadata {
		if got := ne.Meta().Get(k); got != v {
			t.Errorf("error metadata %q = %q; want %q", k, got, v)
		}
	}
	if e.Wire != nil && natsrpc.IsWireError(err) != *e.Wire {
		t.Errorf("IsWireError = %v; want %v", natsrpc.IsWireError(err), *e.Wire)
	}
}

type unaryClientCase struct {
	Name string `json:"name"`
	Wire string `json:"wire"`
	Call struct {
		Request         json.RawMessage   `json:"request"`
		JSON            bool              `json:"json"`
		TimeoutMs       int               `json:"timeoutMs"`
		Headers         map[string]string `json:"headers"`
		PadOwnerIDBytes int               `json:"padOwnerIdBytes"`
	} `json:"call"`
	Reply           *confReply         `json:"reply"`
	NoResponder     bool               `json:"noResponder"`
	ReplyNever      bool               `json:"replyNever"`
	ExpectNoRequest bool               `json:"expectNoRequest"`
	ExpectRequest   *confRequestExpect `json:"expectRequest"`
	Expect          struct {
		confCallExpect
		Message json.RawMessage `json:"message"`
	} `json:"expect"`
}

// scriptedResponder answers every request on subject with reply (none
// when reply is nil) and records what it received.
func scriptedResponder(t *testing.T, nc *nats.Conn, subject string, reply func(*nats.Msg) *nats.Msg) chan *nats.Msg {
	t.Helper()
	got := make(chan *nats.Msg, 16)
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		got <- m
		if reply == nil || m.Reply == "" {
			return
		}
		if r := reply(m); r != nil {
			r.Subject = m.Reply
			_ = nc.PublishMsg(r)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return got
}

// firstRequest waits for the first request a scripted peer received.
func firstRequest(t *testing.T, got chan *nats.Msg) *nats.Msg {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(3 * time.Second):
		t.Fatal("the client sent nothing")
		return nil
	}
}

// noRequest fails when a scripted peer received anything.
func noRequest(t *testing.T, got chan *nats.Msg) {
	t.Helper()
	select {
	case m := <-got:
		t.Errorf("the client sent %v %q; want nothing sent", m.Header, m.Data)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestConformanceUnaryClient runs testdata/conformance/unary_client.json:
// the Go client against a scripted responder. Each case has a server of
// its own, so that cases run in parallel on the method's one subject.
func TestConformanceUnaryClient(t *testing.T) {
	t.Parallel()
	var doc struct {
		Comment string            `json:"comment"`
		Service string            `json:"service"`
		Method  string            `json:"method"`
		Cases   []unaryClientCase `json:"cases"`
	}
	readCases(t, "unary_client.json", &doc)
	srv := natstest.Start(t)
	for i, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			prefix := fmt.Sprintf("conf%d", i)
			nc := natstest.Connect(t, srv)
			var got chan *nats.Msg
			if !c.NoResponder {
				var reply func(*nats.Msg) *nats.Msg
				if c.Reply != nil && !c.ReplyNever {
					reply = func(*nats.Msg) *nats.Msg { return c.Reply.msg(t, "natsrpctest.v1.GetResponse") }
				}
				got = scriptedResponder(t, nc, prefix+"."+getItemSubject, reply)
			}
			opts := []natsrpc.ClientOption{natsrpc.WithSubjectPrefix(prefix)}
			if c.Call.JSON {
				opts = append(opts, natsrpc.WithJSON())
			}
			req := confMessage(t, "natsrpctest.v1.GetRequest", c.Call.Request).(*natsrpctestv1.GetRequest)
			if c.Call.PadOwnerIDBytes > 0 {
				req.OwnerId = strings.Repeat("x", c.Call.PadOwnerIDBytes)
			}
			var callOpts []natsrpc.CallOption
			if c.Call.TimeoutMs > 0 {
				callOpts = append(callOpts, natsrpc.WithCallTimeout(time.Duration(c.Call.TimeoutMs)*time.Millisecond))
			}
			for k, v := range c.Call.Headers {
				callOpts = append(callOpts, natsrpc.WithHeader(k, v))
			}
			var respHeader nats.Header
			callOpts = append(callOpts, natsrpc.WithResponseHeader(&respHeader))
			res, err := getItemClient(nc, opts...).CallUnary(context.Background(), req, callOpts...)
			c.Expect.checkError(t, err)
			if err == nil && c.Expect.Message != nil {
				if want := confMessage(t, "natsrpctest.v1.GetResponse", c.Expect.Message); !proto.Equal(res, want) {
					t.Errorf("response = %v; want %v", res, want)
				}
			}
			for k, v := range c.Expect.ResponseHeaders {
				if g := respHeader.Get(k); g != v {
					t.Errorf("response header %q = %q; want %q", k, g, v)
				}
			}
			switch {
			case c.ExpectNoRequest:
				noRequest(t, got)
			case c.ExpectRequest != nil:
				c.ExpectRequest.check(t, firstRequest(t, got), "natsrpctest.v1.GetRequest")
			}
		})
	}
}

// ---- events ----

// TestConformanceEventClient runs testdata/conformance/event_client.json:
// the Go event client against a scripted subscriber (and, for durable
// events, a scripted JetStream acknowledgement).
func TestConformanceEventClient(t *testing.T) {
	t.Parallel()
	var doc struct {
		Comment string `json:"comment"`
		Cases   []struct {
			Name string `json:"name"`
			Wire string `json:"wire"`
			Call struct {
				Method         string            `json:"method"`
				Request        json.RawMessage   `json:"request"`
				JSON           bool              `json:"json"`
				IdempotencyKey string            `json:"idempotencyKey"`
				Headers        map[string]string `json:"headers"`
				SubjectPrefix  string            `json:"subjectPrefix"`
			} `json:"call"`
			Reply           *confReply         `json:"reply"`
			NoResponder     bool               `json:"noResponder"`
			ExpectNoRequest bool               `json:"expectNoRequest"`
			ExpectRequest   *confRequestExpect `json:"expectRequest"`
			Expect          confCallExpect     `json:"expect"`
		} `json:"cases"`
	}
	readCases(t, "event_client.json", &doc)
	srv := natstest.Start(t)
	for i, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			nc := natstest.Connect(t, srv)
			svc, method, ok := strings.Cut(c.Call.Method, ".")
			if !ok {
				t.Fatalf("method %q: want Service.Method", c.Call.Method)
			}
			md := natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName(protoreflect.Name(svc)).Methods().ByName(protoreflect.Name(method))
			// Each case has a subject prefix of its own, so that cases
			// never see each other's events; the durable stream's name
			// includes the prefix (wire.md §12.2).
			prefix := c.Call.SubjectPrefix
			if prefix == "" {
				prefix = fmt.Sprintf("ev%d", i)
				if e := c.ExpectRequest; e != nil && e.Headers["Nats-Expected-Stream"] != "" {
					e.Headers["Nats-Expected-Stream"] = prefix + "_" + e.Headers["Nats-Expected-Stream"]
				}
			}
			subject := prefix + ".natsrpctest.v1." + c.Call.Method
			var got chan *nats.Msg
			if !c.NoResponder {
				var reply func(*nats.Msg) *nats.Msg
				if c.Reply != nil {
					reply = func(*nats.Msg) *nats.Msg { return c.Reply.msg(t, "google.protobuf.Empty") }
				}
				got = scriptedResponder(t, nc, subject, reply)
			}
			var opts []natsrpc.ClientOption
			if c.Call.JSON {
				opts = append(opts, natsrpc.WithJSON())
			}
			opts = append(opts, natsrpc.WithSubjectPrefix(prefix))
			var callOpts []natsrpc.CallOption
			if c.Call.IdempotencyKey != "" {
				callOpts = append(callOpts, natsrpc.WithIdempotencyKey(c.Call.IdempotencyKey))
			}
			for k, v := range c.Call.Headers {
				callOpts = append(callOpts, natsrpc.WithHeader(k, v))
			}
			reqType := string(md.Input().FullName())
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			var err error
			switch req := confMessage(t, reqType, c.Call.Request).(type) {
			case *natsrpctestv1.NotifyRequest:
				err = natsrpc.NewEventClient[natsrpctestv1.NotifyRequest](nc, md, opts...).Publish(ctx, req, callOpts...)
			case *natsrpctestv1.RecordRequest:
				err = natsrpc.NewEventClient[natsrpctestv1.RecordRequest](nc, md, opts...).Publish(ctx, req, callOpts...)
			default:
				t.Fatalf("no event client for %T", req)
			}
			c.Expect.checkError(t, err)
			switch {
			case c.ExpectNoRequest:
				noRequest(t, got)
			case c.ExpectRequest != nil:
				c.ExpectRequest.check(t, firstRequest(t, got), reqType)
			}
		})
	}
}

// ---- the client side of server streams ----

type streamStep struct {
	Send          string            `json:"send"`
	Seq           uint64            `json:"seq"`
	Headers       map[string]string `json:"headers"`
	Message       json.RawMessage   `json:"message"`
	Base64        *string           `json:"base64"`
	Control       string            `json:"control"`
	Status        *confStatus       `json:"status"`
	Await         string            `json:"await"`
	CreditAtLeast uint64            `json:"creditAtLeast"`
	SleepMs       int               `json:"sleepMs"`
}

type streamCase struct {
	Name string `json:"name"`
	Wire string `json:"wire"`
	Call struct {
		Request json.RawMessage `json:"request"`
		JSON    bool            `json:"json"`
		Stream  struct {
			Window      int `json:"window"`
			WindowBytes int `json:"windowBytes"`
			HeartbeatMs int `json:"heartbeatMs"`
			LivenessMs  int `json:"livenessMs"`
		} `json:"stream"`
		TimeoutMs     int `json:"timeoutMs"`
		Consume       int `json:"consume"`
		StartDelayMs  int `json:"startDelayMs"`
		CancelAfterMs int `json:"cancelAfterMs"`
	} `json:"call"`
	NoResponder     bool               `json:"noResponder"`
	Script          []streamStep       `json:"script"`
	ExpectHandshake *confRequestExpect `json:"expectHandshake"`
	Expect          struct {
		Messages        []json.RawMessage `json:"messages"`
		Code            string            `json:"code"`
		ErrorMessage    *string           `json:"errorMessage"`
		Details         []confDetail      `json:"details"`
		ResponseHeaders map[string]string `json:"responseHeaders"`
		Trailer         map[string]string `json:"trailer"`
		ClientSends     []string          `json:"clientSends"`
	} `json:"expect"`
}

// scriptedStream plays the service side of one stream case: it answers
// the handshake with the case's frames and records the client's frames.
type scriptedStream struct {
	t         *testing.T
	nc        *nats.Conn
	c         *streamCase
	handshake chan *nats.Msg
	frames    chan *nats.Msg
	mu        sync.Mutex
	sent      []*nats.Msg // the client's frames, in order
	done      chan struct{}
}

func (s *scriptedStream) encode(raw json.RawMessage) []byte {
	m := confMessage(s.t, "natsrpctest.v1.WatchResponse", raw)
	var b []byte
	var err error
	if s.c.Call.JSON {
		b, err = protojson.Marshal(m)
	} else {
		b, err = proto.Marshal(m)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

func (s *scriptedStream) run(hs *nats.Msg, control string) {
	defer close(s.done)
	for _, step := range s.c.Script {
		m := &nats.Msg{Subject: hs.Reply, Header: nats.Header{}}
		for k, v := range step.Headers {
			m.Header.Set(k, v)
		}
		seq := strconv.FormatUint(step.Seq, 10)
		switch step.Send {
		case "":
		case "open":
			m.Header.Set("Nats-Rpc-Frame", "open")
			m.Header.Set("Nats-Rpc-Seq", "0")
			m.Header.Set("Nats-Rpc-Control", control)
			if step.Control != "" {
				m.Header.Set("Nats-Rpc-Control", step.Control)
			}
		case "data":
			if len(step.Headers) == 0 {
				m.Header = nil
				m.Data = append(binary.AppendUvarint(nil, step.Seq), s.encode(step.Message)...)
			} else {
				m.Header.Set("Nats-Rpc-Seq", seq)
				m.Data = s.encode(step.Message)
			}
		case "heartbeat", "credit", "end", "cancel":
			m.Header.Set("Nats-Rpc-Frame", step.Send)
			m.Header.Set("Nats-Rpc-Seq", seq)
			if step.Status != nil {
				m.Data = encodeStatusBody(s.t, step.Status)
			}
		case "raw":
			if len(step.Headers) == 0 {
				m.Header = nil
			}
			switch {
			case step.Base64 != nil:
				var err error
				if m.Data, err = base64.StdEncoding.DecodeString(*step.Base64); err != nil {
					s.t.Error(err)
					return
				}
			case step.Message != nil:
				m.Data = s.encode(step.Message)
			}
		default:
			s.t.Errorf("unknown step send %q", step.Send)
			return
		}
		if step.Send != "" {
			if err := s.nc.PublishMsg(m); err != nil {
				s.t.Error(err)
				return
			}
		}
		if step.SleepMs > 0 {
			time.Sleep(time.Duration(step.SleepMs) * time.Millisecond)
		}
		if step.Await != "" && !s.await(step.Await, step.CreditAtLeast) {
			s.t.Errorf("the client sent no %s frame (credit at least %d) within 3s", step.Await, step.CreditAtLeast)
			return
		}
	}
}

// await waits for a client frame of kind, with at least credit.
func (s *scriptedStream) await(kind string, credit uint64) bool {
	timeout := time.After(3 * time.Second)
	for {
		select {
		case f := <-s.frames:
			if f.Header.Get("Nats-Rpc-Frame") != kind {
				continue
			}
			if credit > 0 {
				n, _ := strconv.ParseUint(f.Header.Get("Nats-Rpc-Credit"), 10, 64)
				if n < credit {
					continue
				}
			}
			return true
		case <-timeout:
			return false
		}
	}
}

// TestConformanceStreamClient runs testdata/conformance/stream_client.json:
// the Go server-stream client against a scripted service.
func TestConformanceStreamClient(t *testing.T) {
	t.Parallel()
	var doc struct {
		Comment string       `json:"comment"`
		Service string       `json:"service"`
		Method  string       `json:"method"`
		Cases   []streamCase `json:"cases"`
	}
	readCases(t, "stream_client.json", &doc)
	srv := natstest.Start(t)
	watch := itemService.Methods().ByName("Watch")
	for i := range doc.Cases {
		c := &doc.Cases[i]
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			prefix := fmt.Sprintf("conf%d", i)
			nc := natstest.Connect(t, srv)
			s := &scriptedStream{t: t, nc: nc, c: c, handshake: make(chan *nats.Msg, 1), frames: make(chan *nats.Msg, 1024), done: make(chan struct{})}
			if !c.NoResponder {
				control := nc.NewInbox()
				csub, err := nc.Subscribe(control, func(m *nats.Msg) {
					s.mu.Lock()
					s.sent = append(s.sent, m)
					s.mu.Unlock()
					s.frames <- m
				})
				if err != nil {
					t.Fatal(err)
				}
				defer csub.Unsubscribe()
				sub, err := nc.Subscribe(prefix+".natsrpctest.v1.TestService.Watch", func(m *nats.Msg) {
					s.handshake <- m
					go s.run(m, control)
				})
				if err != nil {
					t.Fatal(err)
				}
				defer sub.Unsubscribe()
				if err := nc.Flush(); err != nil {
					t.Fatal(err)
				}
			} else {
				close(s.done)
			}
			opts := []natsrpc.ClientOption{natsrpc.WithSubjectPrefix(prefix)}
			if c.Call.JSON {
				opts = append(opts, natsrpc.WithJSON())
			}
			st := c.Call.Stream
			if st.Window > 0 || st.WindowBytes > 0 {
				opts = append(opts, natsrpc.WithStreamWindow(cmp(st.Window, natsrpc.DefaultStreamWindow), cmp(st.WindowBytes, natsrpc.DefaultStreamWindowBytes)))
			}
			if st.HeartbeatMs > 0 || st.LivenessMs > 0 {
				opts = append(opts, natsrpc.WithHeartbeat(
					time.Duration(cmp(st.HeartbeatMs, int(natsrpc.DefaultHeartbeat/time.Millisecond)))*time.Millisecond,
					time.Duration(cmp(st.LivenessMs, int(natsrpc.DefaultLiveness/time.Millisecond)))*time.Millisecond))
			}
			// A cancel, not a deadline, bounds a case: a deadline would
			// travel in the handshake.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			defer time.AfterFunc(10*time.Second, cancel).Stop()
			if c.Call.CancelAfterMs > 0 {
				time.AfterFunc(time.Duration(c.Call.CancelAfterMs)*time.Millisecond, cancel)
			}
			var callOpts []natsrpc.CallOption
			if c.Call.TimeoutMs > 0 {
				callOpts = append(callOpts, natsrpc.WithCallTimeout(time.Duration(c.Call.TimeoutMs)*time.Millisecond))
			}
			req := confMessage(t, "natsrpctest.v1.WatchRequest", c.Call.Request).(*natsrpctestv1.WatchRequest)
			client := natsrpc.NewServerStreamClient[natsrpctestv1.WatchRequest, natsrpctestv1.WatchResponse](nc, watch, opts...)
			var got []*natsrpctestv1.WatchResponse
			stream, err := client.CallServerStream(ctx, req, callOpts...)
			var header, trailer nats.Header
			if err == nil {
				if c.Call.StartDelayMs > 0 {
					time.Sleep(time.Duration(c.Call.StartDelayMs) * time.Millisecond)
				}
				for {
					if c.Call.Consume > 0 && len(got) == c.Call.Consume {
						_ = stream.Close()
						err = natsrpc.NewError(natsrpc.CodeCanceled, nil)
						break
					}
					var m *natsrpctestv1.WatchResponse
					m, err = stream.Recv()
					if err != nil {
						break
					}
					got = append(got, m)
				}
				if err == io.EOF {
					err = nil
				}
				header, trailer = stream.ResponseHeader(), stream.ResponseTrailer()
			}
			// Let the script finish (its awaits see the client's last
			// frames), then a moment for a late frame to show.
			select {
			case <-s.done:
			case <-time.After(5 * time.Second):
				t.Error("the script did not finish")
			}
			time.Sleep(50 * time.Millisecond)
			e := c.Expect
			if gotCode := natsrpc.CodeOf(err).String(); gotCode != e.Code {
				t.Errorf("stream ended with %s (%v); want %s", gotCode, err, e.Code)
			}
			var ne *natsrpc.Error
			if errors.As(err, &ne) {
				if e.ErrorMessage != nil && ne.Message() != *e.ErrorMessage {
					t.Errorf("error message = %q; want %q", ne.Message(), *e.ErrorMessage)
				}
				if e.Details != nil {
					checkDetails(t, ne.Details(), e.Details)
				}
			}
			if len(got) != len(e.Messages) {
				t.Errorf("received %d messages %v; want %d", len(got), got, len(e.Messages))
			} else {
				for i, w := range e.Messages {
					if wm := confMessage(t, "natsrpctest.v1.WatchResponse", w); !proto.Equal(got[i], wm) {
						t.Errorf("message %d = %v; want %v", i, got[i], wm)
					}
				}
			}
			if e.ResponseHeaders != nil && !mapsEqual(publicHeaders(header), e.ResponseHeaders) {
				t.Errorf("response headers = %v; want %v", publicHeaders(header), e.ResponseHeaders)
			}
			if e.Trailer != nil && !mapsEqual(publicHeaders(trailer), e.Trailer) {
				t.Errorf("trailer = %v; want %v", publicHeaders(trailer), e.Trailer)
			}
			if e.ClientSends != nil {
				s.mu.Lock()
				kinds := map[string]bool{}
				for _, f := range s.sent {
					k := f.Header.Get("Nats-Rpc-Frame")
					if k == "cancel" && f.Header.Get("Nats-Rpc-Seq") != "0" {
						t.Errorf("cancel frame numbered %q; want 0 (the client sent no data)", f.Header.Get("Nats-Rpc-Seq"))
					}
					if k != "heartbeat" {
						kinds[k] = true
					}
				}
				s.mu.Unlock()
				var sent []string
				for k := range kinds {
					sent = append(sent, k)
				}
				slices.Sort(sent)
				want := slices.Clone(e.ClientSends)
				slices.Sort(want)
				if !slices.Equal(sent, want) {
					t.Errorf("the client sent frames %v (heartbeats aside); want %v", sent, want)
				}
			}
			if c.ExpectHandshake != nil {
				select {
				case hs := <-s.handshake:
					c.ExpectHandshake.check(t, hs, "natsrpctest.v1.WatchRequest")
				default:
					t.Error("no handshake arrived")
				}
			}
		})
	}
}

func cmp(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
