package natsrpc

import (
	"fmt"
	"strconv"
	"strings"
)

// Code classifies an [Error]. The names and numbers are gRPC's (and
// Connect's), so that errors map one to one onto gRPC and HTTP services and
// onto the studio's gaming.common.v1.ErrorCode.
//
// There is no exported code for success: a nil error is success. [CodeOf]
// returns 0 for nil, and Code(0).String() is "ok" so that metrics can label
// successful calls.
type Code uint32

const (
	// CodeCanceled means the caller canceled the call (its context was
	// canceled).
	CodeCanceled Code = 1
	// CodeUnknown means the handler returned an error that carries no code,
	// or the error could not be classified.
	CodeUnknown Code = 2
	// CodeInvalidArgument means the request is invalid regardless of the
	// system's state: a malformed field, an undecodable body, a bad header.
	CodeInvalidArgument Code = 3
	// CodeDeadlineExceeded means the deadline passed before the call
	// completed. The call may still have had effects.
	CodeDeadlineExceeded Code = 4
	// CodeNotFound means a requested entity was not found.
	CodeNotFound Code = 5
	// CodeAlreadyExists means an entity the caller tried to create exists.
	CodeAlreadyExists Code = 6
	// CodePermissionDenied means the caller is identified but not allowed to
	// do this.
	CodePermissionDenied Code = 7
	// CodeResourceExhausted means a limit was hit: the service is
	// overloaded, a quota ran out, or a message is larger than the NATS
	// server's max_payload.
	CodeResourceExhausted Code = 8
	// CodeFailedPrecondition means the system is not in a state the call
	// needs, and retrying will not help until the state changes.
	CodeFailedPrecondition Code = 9
	// CodeAborted means the call was aborted, typically by a concurrency
	// conflict such as a failed compare-and-set.
	CodeAborted Code = 10
	// CodeOutOfRange means the call asked for something past a valid range,
	// such as reading past the end of a list.
	CodeOutOfRange Code = 11
	// CodeUnimplemented means the service does not implement the method.
	CodeUnimplemented Code = 12
	// CodeInternal means an invariant of the service broke, for example a
	// handler panicked.
	CodeInternal Code = 13
	// CodeUnavailable means the service cannot be reached right now: no
	// instance is subscribed (NATS "no responders") or the connection is
	// down. Retrying idempotent calls with backoff is safe.
	CodeUnavailable Code = 14
	// CodeDataLoss means unrecoverable data loss or corruption.
	CodeDataLoss Code = 15
	// CodeUnauthenticated means the caller could not be identified.
	CodeUnauthenticated Code = 16

	minCode = CodeCanceled
	maxCode = CodeUnauthenticated
)

var codeNames = [...]string{
	0:                      "ok",
	CodeCanceled:           "canceled",
	CodeUnknown:            "unknown",
	CodeInvalidArgument:    "invalid_argument",
	CodeDeadlineExceeded:   "deadline_exceeded",
	CodeNotFound:           "not_found",
	CodeAlreadyExists:      "already_exists",
	CodePermissionDenied:   "permission_denied",
	CodeResourceExhausted:  "resource_exhausted",
	CodeFailedPrecondition: "failed_precondition",
	CodeAborted:            "aborted",
	CodeOutOfRange:         "out_of_range",
	CodeUnimplemented:      "unimplemented",
	CodeInternal:           "internal",
	CodeUnavailable:        "unavailable",
	CodeDataLoss:           "data_loss",
	CodeUnauthenticated:    "unauthenticated",
}

// String returns the code's snake_case name, e.g. "not_found", as sent in
// the Nats-Rpc-Code header. Codes outside the enum print as "code_N".
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "code_" + strconv.FormatUint(uint64(c), 10)
}

// MarshalText implements [encoding.TextMarshaler] with the names of
// [Code.String].
func (c Code) MarshalText() ([]byte, error) {
	return []byte(c.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler]. It accepts the names
// of [Code.String] ("ok" for 0) and "code_N" for any N that fits in 32 bits.
func (c *Code) UnmarshalText(text []byte) error {
	code, ok := parseCode(string(text))
	if !ok {
		return fmt.Errorf("invalid code %q", text)
	}
	*c = code
	return nil
}

func parseCode(s string) (Code, bool) {
	for i, name := range codeNames {
		if s == name {
			return Code(i), true
		}
	}
	if n, ok := strings.CutPrefix(s, "code_"); ok && n != "" && (n == "0" || n[0] != '0') {
		v, err := strconv.ParseUint(n, 10, 32)
		if err == nil {
			return Code(v), true
		}
	}
	return 0, false
}

// httpStatus is the HTTP-like number sent in Nats-Service-Error-Code, from
// Connect's table, so that tools that only know ADR-32 see a sensible
// number.
func (c Code) httpStatus() int {
	switch c {
	case CodeCanceled:
		return 499
	case CodeInvalidArgument, CodeFailedPrecondition, CodeOutOfRange:
		return 400
	case CodeDeadlineExceeded:
		return 504
	case CodeNotFound:
		return 404
	case CodeAlreadyExists, CodeAborted:
		return 409
	case CodePermissionDenied:
		return 403
	case CodeResourceExhausted:
		return 429
	case CodeUnimplemented:
		return 501
	case CodeUnavailable:
		return 503
	case CodeUnauthenticated:
		return 401
	default: // unknown, internal, data loss and anything out of range
		return 500
	}
}

// codeFromHTTPStatus maps the numeric Nats-Service-Error-Code of a response
// without Nats-Rpc-Code (a plain micro service, another language's port)
// onto the closest code.
func codeFromHTTPStatus(status int) Code {
	switch status {
	case 400:
		return CodeInvalidArgument
	case 401:
		return CodeUnauthenticated
	case 403:
		return CodePermissionDenied
	case 404:
		return CodeNotFound
	case 408, 504:
		return CodeDeadlineExceeded
	case 409:
		return CodeAborted
	case 412:
		return CodeFailedPrecondition
	case 413, 429:
		return CodeResourceExhausted
	case 499:
		return CodeCanceled
	case 501:
		return CodeUnimplemented
	case 502, 503:
		return CodeUnavailable
	default: // 500 included: unknown, internal and data loss all send it

		return CodeUnknown
	}
}
