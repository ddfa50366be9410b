package natsrpc

import (
	"testing"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// TestMethodKindIsSpecKind pins MethodKind's values to internal/spec's
// Kind: the runtime's Spec and the registry's SubjectResult convert one
// into the other.
func TestMethodKindIsSpecKind(t *testing.T) {
	for _, test := range []struct {
		kind MethodKind
		spec spec.Kind
		name string
	}{
		{MethodKindUnary, spec.KindUnary, "unary"},
		{MethodKindServerStream, spec.KindServerStream, "server_stream"},
		{MethodKindClientStream, spec.KindClientStream, "client_stream"},
		{MethodKindBidiStream, spec.KindBidiStream, "bidi_stream"},
		{MethodKindEvent, spec.KindEvent, "event"},
	} {
		if got := MethodKind(test.spec); got != test.kind {
			t.Errorf("MethodKind(spec.%v) = %d; want %d", test.spec, got, test.kind)
		}
		if got := test.kind.String(); got != test.name {
			t.Errorf("MethodKind(%d).String() = %q; want %q", test.kind, got, test.name)
		}
	}
}
