package spec_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descfuzz"
	"github.com/natsrpc/natsrpc/internal/spec"
)

// Fuzz targets for spec's parsers: the natsrpc options of mutated
// descriptors (descfuzz programs, malformed extension bytes included) and
// subjects. Seeds live in testdata/fuzz/<target>/.
//
//	go test ./internal/spec -run '^$' -fuzz '^FuzzForService$'

// linkFuzzSet links a mutated set, leniently when it does not link as is,
// so that dangling references still reach ForService.
func linkFuzzSet(set *descriptorpb.FileDescriptorSet) (*protoregistry.Files, bool) {
	if files, err := protodesc.NewFiles(set); err == nil {
		return files, true
	}
	files, err := protodesc.FileOptions{AllowUnresolvable: true}.NewFiles(set)
	return files, err == nil
}

// describeServices runs ForService on every service of files and renders
// the outcome, checking each result's invariants on the way.
func describeServices(t *testing.T, files *protoregistry.Files) string {
	var out []string
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			var b strings.Builder
			sd := fd.Services().Get(i)
			s, err := spec.ForService(sd)
			if err != nil {
				var se *spec.Error
				if !errors.As(err, &se) {
					t.Fatalf("ForService(%s) = %T %v; want a *spec.Error", sd.FullName(), err, err)
				}
				if se.File != fd.Path() || se.Element == "" || se.Problem == "" || err.Error() == "" {
					t.Fatalf("ForService(%s): incomplete error %#v", sd.FullName(), se)
				}
				fmt.Fprintf(&b, "%s: error %v\n", sd.FullName(), err)
				out = append(out, b.String())
				continue
			}
			checkService(t, s)
			fmt.Fprintf(&b, "%s: %s %s %q %s skip=%v\n", s.FullName, s.SubjectBase, s.Version, s.QueueGroup, s.DefaultTimeout, s.Skip)
			for _, m := range s.Methods {
				fmt.Fprintf(&b, "  %s %s %s %q %s %v %v\n", m.Name, m.Subject, m.Kind, m.QueueGroup, m.Timeout, m.Delivery, m.Skip)
			}
			out = append(out, b.String())
		}
		return true
	})
	slices.Sort(out)
	return strings.Join(out, "")
}

// checkService checks what every mapping ForService returns must satisfy.
func checkService(t *testing.T, s *spec.Service) {
	t.Helper()
	if s.Methods == nil && s.Desc.Methods().Len() > 0 || len(s.Methods) != s.Desc.Methods().Len() {
		t.Fatalf("%s: %d methods for %d", s.FullName, len(s.Methods), s.Desc.Methods().Len())
	}
	if err := spec.ValidateSubject(s.SubjectBase); err != nil {
		t.Fatalf("%s: subject base %q: %v", s.FullName, s.SubjectBase, err)
	}
	if strings.Contains(s.MicroName, ".") || s.Version == "" {
		t.Fatalf("%s: micro name %q, version %q", s.FullName, s.MicroName, s.Version)
	}
	if s.QueueGroup != "" && spec.ValidateToken(s.QueueGroup) != nil {
		t.Fatalf("%s: queue group %q", s.FullName, s.QueueGroup)
	}
	if s.DefaultTimeout < 0 || s.DefaultTimeout > 24*time.Hour+time.Second {
		t.Fatalf("%s: default timeout %v", s.FullName, s.DefaultTimeout)
	}
	seen := map[string]bool{}
	for _, m := range s.Methods {
		if m.Service != s || m.Procedure != "/"+s.FullName+"/"+m.Name {
			t.Fatalf("%s: method %s: procedure %q", s.FullName, m.Name, m.Procedure)
		}
		if m.Kind < spec.KindUnary || m.Kind > spec.KindEvent {
			t.Fatalf("%s: kind %v", m.Procedure, m.Kind)
		}
		if (m.Kind == spec.KindEvent) != (m.Delivery != 0) {
			t.Fatalf("%s: kind %v with delivery %v", m.Procedure, m.Kind, m.Delivery)
		}
		if m.Durable != nil && (m.Kind != spec.KindEvent || m.Delivery != spec.DeliveryQueue) {
			t.Fatalf("%s: durable %v %v", m.Procedure, m.Kind, m.Delivery)
		}
		if m.Delivery == spec.DeliveryBroadcast && m.QueueGroup != "" {
			t.Fatalf("%s: broadcast event in queue group %q", m.Procedure, m.QueueGroup)
		}
		if m.Timeout < 0 || m.Timeout > 24*time.Hour+time.Second {
			t.Fatalf("%s: timeout %v", m.Procedure, m.Timeout)
		}
		if m.Skip {
			continue
		}
		if err := spec.ValidateSubject(m.Subject); err != nil {
			t.Fatalf("%s: subject %q: %v", m.Procedure, m.Subject, err)
		}
		if seen[m.Subject] {
			t.Fatalf("%s: subject %q used twice", m.Procedure, m.Subject)
		}
		seen[m.Subject] = true
	}
}

// FuzzForService applies a descfuzz program to a schema with every kind of
// method and natsrpc option, then derives every service's mapping: it must
// never panic, fail only with a complete *spec.Error, return mappings that
// satisfy their invariants, and give the same answer for the descriptors
// decoded from their own bytes (as the registry reads stored sets).
func FuzzForService(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{29, 0, 1, 30, 0, 1},
		{32, 1, 0, 32, 2, 7, 32, 0, 12},
		{30, 3, 0x45, 30, 3, 0x17, 30, 3, 0x25},
		{1, 60, 40, 29, 16, 0x2f, 30, 0, 0x51},
		{0, 5, 'a', '.', 'b', '*', 'c', 29, 1, 0xff},
		{22, 4, 2, 22, 4, 7, 28, 1, 21, 27, 0, 22},
	} {
		f.Add(seed)
	}
	base, err := descfuzz.Base()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, program []byte) {
		set := proto.CloneOf(base)
		descfuzz.Mutate(set, program)
		files, ok := linkFuzzSet(set)
		if !ok {
			return
		}
		got := describeServices(t, files)
		if again := describeServices(t, files); again != got {
			t.Fatalf("ForService is not deterministic:\n%s\n%s", got, again)
		}
		// The registry stores the set and reads it back without natsrpc's
		// extension types: the mapping must not change.
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
		if err != nil {
			return
		}
		decoded := &descriptorpb.FileDescriptorSet{}
		if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(data, decoded); err != nil {
			return // malformed option bytes make the whole set malformed
		}
		stored, ok := linkFuzzSet(decoded)
		if !ok {
			// protodesc's lenient linking of a broken set depends on map
			// order; only sets that link both times are compared.
			return
		}
		if fromStore := describeServices(t, stored); fromStore != got {
			t.Fatalf("mapping changed after a round trip through bytes:\n%s\nvs\n%s", got, fromStore)
		}
	})
}

// FuzzValidateSubject checks ValidateSubject and ValidateToken against a
// plain restatement of the rules.
func FuzzValidateSubject(f *testing.F) {
	for _, s := range []string{"a", "a.b.c", "", ".", "a.", ".a", "a..b", "$SYS.x", "a$", "a.*", "a.>", "a b", "a\x7f", "é.ü", "\xff", "a\tb", strings.Repeat("a.", 600) + "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tokenOK := func(tok string) bool {
			if tok == "" {
				return false
			}
			for _, r := range tok {
				if r == '.' || r == '*' || r == '>' || r <= ' ' || r == 0x7f {
					return false
				}
			}
			return true
		}
		want := s != "" && !strings.HasPrefix(s, "$") && len(s) <= spec.MaxSubjectLength
		for tok := range strings.SplitSeq(s, ".") {
			want = want && tokenOK(tok)
		}
		err := spec.ValidateSubject(s)
		if (err == nil) != want {
			t.Fatalf("ValidateSubject(%q) = %v; want ok=%v", s, err, want)
		}
		if err != nil && err.Error() == "" {
			t.Fatalf("ValidateSubject(%q): empty error", s)
		}
		terr := spec.ValidateToken(s)
		if (terr == nil) != tokenOK(s) {
			t.Fatalf("ValidateToken(%q) = %v; want ok=%v", s, terr, tokenOK(s))
		}
	})
}
