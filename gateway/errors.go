package gateway

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	"github.com/natsrpc/natsrpc"
)

// connectError turns an error of the runtime into the connect error the
// protocols write: the same code (natsrpc's codes are gRPC's and
// Connect's, number for number), the message, every detail, and the
// error's metadata headers that may travel over HTTP.
func connectError(err error) *connect.Error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	var e *natsrpc.Error
	if !errors.As(err, &e) {
		return connect.NewError(connect.Code(natsrpc.CodeOf(err)), err)
	}
	var msg error
	if m := e.Message(); m != "" {
		msg = errors.New(m)
	}
	out := connect.NewError(connect.Code(e.Code()), msg)
	for _, d := range e.Details() {
		if detail, derr := connect.NewErrorDetail(d); derr == nil {
			out.AddDetail(detail)
		}
	}
	if natsrpc.IsWireError(err) {
		copyResponseHeader(out.Meta(), e.Meta())
	}
	return out
}

// httpStatus is Connect's HTTP status for a code (the table of the
// Connect protocol specification), which vanguard also uses for REST.
func httpStatus(c connect.Code) int {
	switch c {
	case connect.CodeCanceled:
		return 499
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeOutOfRange:
		return http.StatusBadRequest
	case connect.CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case connect.CodeNotFound:
		return http.StatusNotFound
	case connect.CodeAlreadyExists, connect.CodeAborted:
		return http.StatusConflict
	case connect.CodePermissionDenied:
		return http.StatusForbidden
	case connect.CodeResourceExhausted:
		return http.StatusTooManyRequests
	case connect.CodeUnimplemented:
		return http.StatusNotImplemented
	case connect.CodeUnavailable:
		return http.StatusServiceUnavailable
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// codeFromHTTPStatus is the code a Connect client reads from an HTTP
// status without an error body, for metrics of answers the gateway did
// not make itself.
func codeFromHTTPStatus(status int) (connect.Code, bool) {
	switch status {
	case http.StatusOK:
		return 0, true
	case http.StatusBadRequest:
		return connect.CodeInvalidArgument, true
	case http.StatusUnauthorized:
		return connect.CodeUnauthenticated, true
	case http.StatusForbidden:
		return connect.CodePermissionDenied, true
	case http.StatusNotFound:
		return connect.CodeUnimplemented, true
	case http.StatusConflict:
		return connect.CodeAborted, true
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return connect.CodeResourceExhausted, true
	case 499:
		return connect.CodeCanceled, true
	case http.StatusNotImplemented:
		return connect.CodeUnimplemented, true
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return connect.CodeUnavailable, true
	case http.StatusGatewayTimeout:
		return connect.CodeDeadlineExceeded, true
	case http.StatusUnsupportedMediaType:
		return connect.CodeInvalidArgument, true
	}
	if status >= 500 {
		return connect.CodeInternal, true
	}
	return connect.CodeUnknown, status >= 400
}

// connectWireError is the Connect protocol's JSON error object.
type connectWireError struct {
	Code    string              `json:"code"`
	Message string              `json:"message,omitempty"`
	Details []connectWireDetail `json:"details,omitempty"`
}

type connectWireDetail struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// restWireError is google.rpc.Status in JSON, as vanguard writes REST
// errors.
type restWireError struct {
	Code    int    `json:"code"`
	Message string `json:"message,omitempty"`
	Details []any  `json:"details"`
}

// writeError answers r with err in the protocol r speaks; for errors the
// gateway raises before a route handles the request.
func writeError(w http.ResponseWriter, r *http.Request, err *connect.Error) {
	h := w.Header()
	for k, vs := range err.Meta() {
		h[k] = vs
	}
	switch classify(r) {
	case protoGRPC, protoGRPCWeb:
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/grpc"
		}
		h.Set("Content-Type", ct)
		// Trailers-Only: the status in the headers of an empty response.
		h.Set("Grpc-Status", strconv.Itoa(int(err.Code())))
		h.Set("Grpc-Message", grpcPercentEncode(err.Message()))
		w.WriteHeader(http.StatusOK)
	case protoREST:
		h.Set("Content-Type", "application/json")
		w.WriteHeader(httpStatus(err.Code()))
		b, _ := json.Marshal(restWireError{Code: int(err.Code()), Message: err.Message(), Details: []any{}})
		_, _ = w.Write(b)
	default:
		h.Set("Content-Type", "application/json")
		w.WriteHeader(httpStatus(err.Code()))
		we := connectWireError{Code: err.Code().String(), Message: err.Message()}
		for _, d := range err.Details() {
			we.Details = append(we.Details, connectWireDetail{Type: d.Type(), Value: base64.RawStdEncoding.EncodeToString(d.Bytes())})
		}
		b, _ := json.Marshal(we)
		_, _ = w.Write(b)
	}
}

// grpcPercentEncode encodes a grpc-message value: printable ASCII but "%"
// as is, everything else percent-encoded (the gRPC HTTP/2 spec).
func grpcPercentEncode(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c >= ' ' && c <= '~' && c != '%' {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
