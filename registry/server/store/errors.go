package store

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an [Error]. Each kind maps onto one natsrpc error code
// when the registry answers over NATS.
type Kind int

const (
	// KindInternal means an invariant broke or stored data is corrupt.
	// It maps to the code "internal".
	KindInternal Kind = iota
	// KindInvalidArgument means the request is invalid whatever the
	// registry holds: a bad module name, a malformed descriptor set, a
	// missing import. It maps to "invalid_argument".
	KindInvalidArgument
	// KindNotFound means an unknown module, version, symbol, file or
	// subject. It maps to "not_found".
	KindNotFound
	// KindFailedPrecondition means a push was refused for a policy reason:
	// a breaking change, or a package, file or subject another module
	// owns, or an import that does not match its owner. [Error.Violations]
	// says why. It maps to "failed_precondition".
	KindFailedPrecondition
	// KindConflict means a push lost the race for the module head too many
	// times in a row (other pushes kept landing first); retrying is safe.
	// It maps to "aborted".
	KindConflict
	// KindUnavailable means JetStream could not be reached or had no
	// leader for the registry's streams before the context ended;
	// retrying later is safe. It maps to "unavailable".
	KindUnavailable
)

// String returns the kind's snake_case name, as the natsrpc error codes
// spell them.
func (k Kind) String() string {
	switch k {
	case KindInternal:
		return "internal"
	case KindInvalidArgument:
		return "invalid_argument"
	case KindNotFound:
		return "not_found"
	case KindFailedPrecondition:
		return "failed_precondition"
	case KindConflict:
		return "conflict"
	case KindUnavailable:
		return "unavailable"
	default:
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// Error is the one error type the registry returns. Its message says what
// went wrong and, where the caller can do something, what to do.
type Error struct {
	// Kind classifies the error.
	Kind Kind
	// Violations are the reasons a push was refused; set only with
	// KindFailedPrecondition.
	Violations []Violation
	msg        string
	err        error
}

// Error returns the message, followed by the first violation when there
// are any.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.msg)
	if e.err != nil {
		if e.msg != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.err.Error())
	}
	if len(e.Violations) > 0 {
		fmt.Fprintf(&b, " (%d violation", len(e.Violations))
		if len(e.Violations) > 1 {
			b.WriteString("s")
		}
		b.WriteString(", first: ")
		b.WriteString(e.Violations[0].String())
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.err }

// KindOf returns the kind of err's [*Error], or KindInternal when err is
// not (and does not wrap) one. It returns KindInternal for nil.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsNotFound reports whether err is a KindNotFound [*Error].
func IsNotFound(err error) bool { return err != nil && KindOf(err) == KindNotFound }

// IsRefused reports whether err is a push refused for a policy reason
// (KindFailedPrecondition).
func IsRefused(err error) bool { return err != nil && KindOf(err) == KindFailedPrecondition }

func newError(kind Kind, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, msg: "", err: err}
}

func wrapError(kind Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, msg: fmt.Sprintf(format, args...), err: err}
}

func invalidf(format string, args ...any) *Error {
	return newError(KindInvalidArgument, format, args...)
}

func notFoundf(format string, args ...any) *Error {
	return newError(KindNotFound, format, args...)
}

func internalf(format string, args ...any) *Error {
	return newError(KindInternal, format, args...)
}
