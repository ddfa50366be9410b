// Package schema finds the descriptors of the services the CLI calls,
// lists and watches: in the schema registry (the latest version of every
// module, or one pinned version), in a descriptor set file, or from the
// running instances themselves ($SRV.SCHEMA, docs/wire.md §14). The
// commands `call`, `template`, `services`, `tap` and `status` build on it.
package schema

import (
	"fmt"
	"strings"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// MethodRef is a METHOD argument: a method's full name, or the NATS
// subject a method listens on. The dotted form "pkg.Service.Method" is
// both: it is looked up as a name first, then as a subject.
type MethodRef struct {
	// Raw is the argument as given.
	Raw string
	// Service and Method are the service's full name and the method's
	// name, when Raw can be a method's full name.
	Service, Method string
	// Subject is Raw when it can be a NATS subject (the dotted form, or
	// a subject with a runtime prefix).
	Subject string
}

// String returns the argument as given.
func (r MethodRef) String() string { return r.Raw }

// ByName reports whether the reference can name a method by its full name.
func (r MethodRef) ByName() bool { return r.Method != "" }

// FullName returns "pkg.Service/Method", or the subject when the reference
// cannot be a name.
func (r MethodRef) FullName() string {
	if r.Method == "" {
		return r.Subject
	}
	return r.Service + "/" + r.Method
}

const methodForms = `write pkg.Service/Method (e.g. gaming.quest_system.v1.QuestSystemService/GetQuest), pkg.Service.Method, or the method's NATS subject (a runtime prefix included)`

// ParseMethod parses a METHOD argument: "pkg.Service/Method" (a leading
// slash, as in gRPC's "/pkg.Service/Method", is allowed),
// "pkg.Service.Method", or a NATS subject. Its error says which forms are
// accepted.
func ParseMethod(s string) (MethodRef, error) {
	ref := MethodRef{Raw: s}
	if s == "" {
		return ref, fmt.Errorf("the method is empty: %s", methodForms)
	}
	if strings.Contains(s, "/") {
		svc, method, _ := strings.Cut(strings.TrimPrefix(s, "/"), "/")
		if strings.Contains(method, "/") || !isFullName(svc) || !isIdent(method) {
			return ref, fmt.Errorf("method %q is not of the form pkg.Service/Method: %s", s, methodForms)
		}
		ref.Service, ref.Method = svc, method
		return ref, nil
	}
	if strings.HasPrefix(s, "$") || spec.ValidateSubject(s) != nil {
		reason := "it is not a literal NATS subject"
		if err := spec.ValidateSubject(s); err != nil {
			reason = err.Error()
		}
		return ref, fmt.Errorf("method %q is neither a name nor a subject (%s): %s", s, reason, methodForms)
	}
	ref.Subject = s
	if i := strings.LastIndexByte(s, '.'); i > 0 && isFullName(s[:i]) && isIdent(s[i+1:]) {
		ref.Service, ref.Method = s[:i], s[i+1:]
	}
	return ref, nil
}

// isFullName reports whether s is a dotted sequence of identifiers.
func isFullName(s string) bool {
	if s == "" {
		return false
	}
	for part := range strings.SplitSeq(s, ".") {
		if !isIdent(part) {
			return false
		}
	}
	return true
}

// isIdent reports whether s is a protobuf identifier: a letter or an
// underscore, then letters, digits and underscores.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
