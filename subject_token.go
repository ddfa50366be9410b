package natsrpc

import (
	"errors"
	"fmt"
	"strings"
)

// Subject tokens let one unary method serve a family of subjects, one per
// value of a trailing token: the service subscribes to "<subject>.*" and
// each call names its token. NATS permissions can then grant each value
// apart (publish "<subject>.quest" but not "<subject>.payment"), which a
// field of the request cannot: the schema registry puts the module a push
// is for there, so that a NATS user may push one module and no other.

// maxSubjectToken bounds a token, far below the 1024 bytes a subject may
// take.
const maxSubjectToken = 128

// WithSubjectWildcard serves the named unary methods (proto method names,
// e.g. "Push") on their subject followed by one more token,
// "<subject>.*", instead of on their subject. Callers name the token with
// [WithSubjectToken], handlers read it with [CallInfo.SubjectToken]. A
// method that is not unary, or not a method of the service, fails
// [NewService].
func WithSubjectWildcard(methods ...string) HandlerOption {
	return wildcardOption(methods)
}

type wildcardOption []string

func (o wildcardOption) applyToHandler(c *handlerConfig) {
	if c.wildcards == nil {
		c.wildcards = make(map[string]bool, len(o))
	}
	for _, m := range o {
		c.wildcards[m] = true
	}
}

// WithSubjectToken sends a unary call on the method's subject followed by
// token, for a method served with [WithSubjectWildcard]. The token is one
// NATS subject token: 1 to 128 printable ASCII characters without ".",
// "*", ">" or whitespace, not starting with "$". An invalid token fails
// the call with [CodeInvalidArgument] before anything is sent; streams and
// events refuse the option.
func WithSubjectToken(token string) CallOption {
	return subjectTokenOption(token)
}

type subjectTokenOption string

func (o subjectTokenOption) applyToCall(c *callConfig) {
	if err := ValidateSubjectToken(string(o)); err != nil {
		if c.err == nil {
			c.err = NewError(CodeInvalidArgument, err)
		}
		return
	}
	c.subjectToken = string(o)
}

// ValidateSubjectToken reports whether token can be a subject token of
// [WithSubjectToken].
func ValidateSubjectToken(token string) error {
	switch {
	case token == "":
		return errors.New("subject token is empty")
	case len(token) > maxSubjectToken:
		return fmt.Errorf("subject token of %d bytes is longer than %d", len(token), maxSubjectToken)
	case token[0] == '$':
		return fmt.Errorf("subject token %q starts with \"$\"", token)
	}
	for i := 0; i < len(token); i++ {
		if b := token[i]; b <= ' ' || b >= 0x7f || b == '.' || b == '*' || b == '>' {
			return fmt.Errorf("subject token %q has %q, which a NATS subject token cannot have", token, b)
		}
	}
	return nil
}

// SubjectToken returns the trailing token of a call to a method served
// with [WithSubjectWildcard]: in a handler, the token of the subject the
// request arrived on; on a client, the one [WithSubjectToken] gave. It is
// "" for other methods.
func (c *CallInfo) SubjectToken() string {
	if c.subject == "" {
		return ""
	}
	i := strings.LastIndexByte(c.subject, '.')
	return c.subject[i+1:]
}

// tokenSpec returns the Spec of a call sent with a subject token.
func tokenSpec(s *Spec, token string) *Spec {
	t := *s
	t.Subject = s.Subject + "." + token
	return &t
}

// errTokenNotUnary refuses WithSubjectToken on streams and events.
func errTokenNotUnary() *Error {
	return NewError(CodeInvalidArgument, errors.New("WithSubjectToken applies to unary calls only"))
}
