package breaking

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
)

// FuzzCheck mutates valid descriptor sets, not raw bytes: the input is a
// program of descriptor-level edits (delete, renumber, retype, rename,
// re-label, break references, scramble source info, ...) applied to the
// previous or the current copy of a compiled schema. Most results no
// longer link; the checker must then return an error, and for the ones
// that do, findings. It must never panic.
//
//	go test ./registry/breaking -run '^$' -fuzz FuzzCheck
func FuzzCheck(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{0, 0, 1},
		{1, 2, 3, 4, 5, 6, 7, 8},
		{9, 0, 0, 9, 1, 1, 9, 2, 2},
		{3, 1, 7, 4, 4, 4, 12, 0, 5},
		{15, 0, 1, 16, 1, 2, 17, 2, 3, 18, 3, 4},
		{0x80, 1, 2, 0x81, 3, 4, 0x82, 5, 6},
		{11, 11, 11, 11, 13, 13, 13, 13},
	} {
		f.Add(seed)
	}
	base := fuzzBase(f)
	f.Fuzz(func(t *testing.T, program []byte) {
		prev := cloneSet(base)
		cur := cloneSet(base)
		applyProgram(program, prev, cur)
		ctx := context.Background()
		cfg := Config{Use: []string{CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire, CategoryCSR}, NATSRPC: true}
		failOnPanic := func(err error) {
			var ie *InternalError
			if errors.As(err, &ie) {
				t.Fatalf("%v\n%s", ie, ie.Stack)
			}
		}
		vs, err := Check(ctx, prev, cur, cfg)
		failOnPanic(err)
		if err == nil {
			for _, format := range Formats {
				if err := Print(&bytes.Buffer{}, vs, format); err != nil {
					t.Fatalf("print %s: %v", format, err)
				}
			}
		}
		for _, v := range []Version{VersionV1Beta1, VersionV1} {
			_, err := Check(ctx, prev, cur, Config{Version: v, Use: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}})
			failOnPanic(err)
		}
		p := DefaultPolicy()
		p.Direction = DirectionFull
		p.Transitive = true
		_, err = CheckPolicy(ctx, p, []Image{ImageFromSet(prev), ImageFromSet(cur)}, ImageFromSet(cur))
		failOnPanic(err)
	})
}

var (
	fuzzBaseOnce sync.Once
	fuzzBaseSet  *descriptorpb.FileDescriptorSet
)

func fuzzBase(tb testing.TB) *descriptorpb.FileDescriptorSet {
	fuzzBaseOnce.Do(func() {
		// The files of testdata/fuzzbase in path order, then their
		// imports in path order, as the CLI's loader lists a module.
		targets := testschema.CompileDir(tb, "testdata/fuzzbase")
		set := descset.Closure(targets...)
		isTarget := map[string]bool{}
		for _, fd := range targets {
			isTarget[fd.Path()] = true
		}
		fuzzBaseSet = &descriptorpb.FileDescriptorSet{}
		var imports []*descriptorpb.FileDescriptorProto
		for _, f := range set.GetFile() {
			if !isTarget[f.GetName()] {
				imports = append(imports, f)
			}
		}
		slices.SortFunc(imports, func(a, b *descriptorpb.FileDescriptorProto) int { return strings.Compare(a.GetName(), b.GetName()) })
		for _, fd := range targets {
			for _, f := range set.GetFile() {
				if f.GetName() == fd.Path() {
					fuzzBaseSet.File = append(fuzzBaseSet.File, f)
				}
			}
		}
		fuzzBaseSet.File = append(fuzzBaseSet.File, imports...)
	})
	if fuzzBaseSet == nil {
		tb.Fatal("testdata/fuzzbase did not compile (see the first failure)")
	}
	return fuzzBaseSet
}

func cloneSet(s *descriptorpb.FileDescriptorSet) *descriptorpb.FileDescriptorSet {
	return proto.Clone(s).(*descriptorpb.FileDescriptorSet)
}

// applyProgram interprets program three bytes at a time: an opcode (its
// top bit picks the previous or the current set) and two operands.
func applyProgram(program []byte, prev, cur *descriptorpb.FileDescriptorSet) {
	for len(program) >= 3 {
		op, a, b := program[0], int(program[1]), int(program[2])
		program = program[3:]
		set := cur
		if op&0x80 != 0 {
			set = prev
		}
		mutateSet(set, op&0x7f, a, b)
	}
}

func pick[T any](xs []T, i int) (int, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	return i % len(xs), true
}

// allMessageProtos lists every message of a set, nested ones included.
func allMessageProtos(set *descriptorpb.FileDescriptorSet) []*descriptorpb.DescriptorProto {
	var out []*descriptorpb.DescriptorProto
	var walk func([]*descriptorpb.DescriptorProto)
	walk = func(ms []*descriptorpb.DescriptorProto) {
		for _, m := range ms {
			out = append(out, m)
			walk(m.NestedType)
		}
	}
	for _, f := range set.File {
		walk(f.MessageType)
	}
	return out
}

func allFieldProtos(set *descriptorpb.FileDescriptorSet) []*descriptorpb.FieldDescriptorProto {
	var out []*descriptorpb.FieldDescriptorProto
	for _, m := range allMessageProtos(set) {
		out = append(out, m.Field...)
		out = append(out, m.Extension...)
	}
	for _, f := range set.File {
		out = append(out, f.Extension...)
	}
	return out
}

func allEnumProtos(set *descriptorpb.FileDescriptorSet) []*descriptorpb.EnumDescriptorProto {
	var out []*descriptorpb.EnumDescriptorProto
	for _, f := range set.File {
		out = append(out, f.EnumType...)
	}
	for _, m := range allMessageProtos(set) {
		out = append(out, m.EnumType...)
	}
	return out
}

var fuzzTypeNames = []string{"", ".fuzz.p2.v1.Base", ".fuzz.p2.v1.Base.Color", ".fuzz.p3.v1beta1.Thing", ".nope.Missing", "fuzz.ed.v1.Rec", ".google.protobuf.Timestamp", "."}

func mutateSet(set *descriptorpb.FileDescriptorSet, op byte, a, b int) {
	fields := allFieldProtos(set)
	msgs := allMessageProtos(set)
	enums := allEnumProtos(set)
	switch op % 24 {
	case 0: // delete a field
		for _, m := range msgs {
			if i, ok := pick(m.Field, a); ok && b%3 == 0 {
				m.Field = append(m.Field[:i], m.Field[i+1:]...)
				return
			}
		}
	case 1: // renumber a field
		if i, ok := pick(fields, a); ok {
			fields[i].Number = proto.Int32(int32(b) - 10)
		}
	case 2: // retype a field
		if i, ok := pick(fields, a); ok {
			fields[i].Type = descriptorpb.FieldDescriptorProto_Type(b % 20).Enum()
		}
	case 3: // re-point a type name
		if i, ok := pick(fields, a); ok {
			fields[i].TypeName = proto.String(fuzzTypeNames[b%len(fuzzTypeNames)])
		}
	case 4: // change a label
		if i, ok := pick(fields, a); ok {
			fields[i].Label = descriptorpb.FieldDescriptorProto_Label(b % 5).Enum()
		}
	case 5: // rename a field
		if i, ok := pick(fields, a); ok {
			fields[i].Name = proto.String([]string{"", "x", "Thing", "a b", "id"}[b%5])
		}
	case 6: // move a field into a oneof, maybe one that does not exist
		if i, ok := pick(fields, a); ok {
			fields[i].OneofIndex = proto.Int32(int32(b%4) - 1)
		}
	case 7: // delete a message
		if i, ok := pick(set.File, a); ok {
			if j, ok := pick(set.File[i].MessageType, b); ok {
				set.File[i].MessageType = append(set.File[i].MessageType[:j], set.File[i].MessageType[j+1:]...)
			}
		}
	case 8: // rename a message
		if i, ok := pick(msgs, a); ok {
			msgs[i].Name = proto.String([]string{"Renamed", "", "Base", "Thing"}[b%4])
		}
	case 9: // delete a file
		if i, ok := pick(set.File, a); ok && len(set.File) > 1 {
			set.File = append(set.File[:i], set.File[i+1:]...)
		}
	case 10: // change a package
		if i, ok := pick(set.File, a); ok {
			set.File[i].Package = proto.String([]string{"", "other.v1", "fuzz.p2.v1", "google.protobuf"}[b%4])
		}
	case 11: // change the syntax
		if i, ok := pick(set.File, a); ok {
			set.File[i].Syntax = proto.String([]string{"", "proto2", "proto3", "editions", "proto4"}[b%5])
			if b%2 == 0 {
				set.File[i].Edition = descriptorpb.Edition(b * 100).Enum()
			}
		}
	case 12: // drop, add or self-reference a dependency
		if i, ok := pick(set.File, a); ok {
			f := set.File[i]
			switch b % 3 {
			case 0:
				f.Dependency = nil
			case 1:
				f.Dependency = append(f.Dependency, f.GetName())
			default:
				f.Dependency = append(f.Dependency, "missing.proto")
			}
		}
	case 13: // delete or alias an enum value
		if i, ok := pick(enums, a); ok {
			e := enums[i]
			if j, ok := pick(e.Value, b); ok {
				if b%2 == 0 {
					e.Value = append(e.Value[:j], e.Value[j+1:]...)
				} else {
					e.Value = append(e.Value, &descriptorpb.EnumValueDescriptorProto{Name: proto.String("ALIAS"), Number: e.Value[j].Number})
				}
			}
		}
	case 14: // scramble reserved and extension ranges
		if i, ok := pick(msgs, a); ok {
			m := msgs[i]
			m.ReservedRange = append(m.ReservedRange, &descriptorpb.DescriptorProto_ReservedRange{Start: proto.Int32(int32(b) - 5), End: proto.Int32(int32(b/2) - 5)})
			m.ExtensionRange = append(m.ExtensionRange, &descriptorpb.DescriptorProto_ExtensionRange{Start: proto.Int32(int32(b)), End: proto.Int32(536870912)})
		}
	case 15: // scramble source code info
		if i, ok := pick(set.File, a); ok {
			f := set.File[i]
			for k, l := range f.GetSourceCodeInfo().GetLocation() {
				if k%(b%7+1) == 0 {
					l.Span = l.Span[:len(l.Span)%(b%4+1)]
					l.Path = append(l.Path, int32(b))
				}
			}
		}
	case 16: // drop source code info
		if i, ok := pick(set.File, a); ok {
			set.File[i].SourceCodeInfo = nil
		}
	case 17: // set a default value
		if i, ok := pick(fields, a); ok {
			fields[i].DefaultValue = proto.String([]string{"", "1", "-1", "nan", "inf", "x", "GREEN", "\\377", "99999999999999999999"}[b%9])
		}
	case 18: // change options
		if i, ok := pick(fields, a); ok {
			fields[i].Options = &descriptorpb.FieldOptions{
				Jstype:   descriptorpb.FieldOptions_JSType(b % 4).Enum(),
				Ctype:    descriptorpb.FieldOptions_CType(b % 3).Enum(),
				Packed:   proto.Bool(b%2 == 0),
				Features: &descriptorpb.FeatureSet{FieldPresence: descriptorpb.FeatureSet_FieldPresence(b % 4).Enum()},
			}
		}
	case 19: // change a method
		for _, f := range set.File {
			for _, s := range f.Service {
				if j, ok := pick(s.Method, a); ok {
					m := s.Method[j]
					m.InputType = proto.String(fuzzTypeNames[b%len(fuzzTypeNames)])
					m.ClientStreaming = proto.Bool(b%2 == 0)
					m.Options = &descriptorpb.MethodOptions{IdempotencyLevel: descriptorpb.MethodOptions_IdempotencyLevel(b % 4).Enum()}
					return
				}
			}
		}
	case 20: // delete a service or method
		for _, f := range set.File {
			if j, ok := pick(f.Service, a); ok {
				if b%2 == 0 {
					f.Service = append(f.Service[:j], f.Service[j+1:]...)
				} else if k, ok := pick(f.Service[j].Method, b); ok {
					f.Service[j].Method = append(f.Service[j].Method[:k], f.Service[j].Method[k+1:]...)
				}
				return
			}
		}
	case 21: // change an extendee
		if i, ok := pick(fields, a); ok {
			fields[i].Extendee = proto.String(fuzzTypeNames[b%len(fuzzTypeNames)])
		}
	case 22: // duplicate a file or a field
		if i, ok := pick(set.File, a); ok && b%2 == 0 {
			set.File = append(set.File, proto.Clone(set.File[i]).(*descriptorpb.FileDescriptorProto))
		} else if i, ok := pick(msgs, a); ok {
			if j, ok := pick(msgs[i].Field, b); ok {
				msgs[i].Field = append(msgs[i].Field, proto.Clone(msgs[i].Field[j]).(*descriptorpb.FieldDescriptorProto))
			}
		}
	case 23: // nil out a file or set message options
		if i, ok := pick(msgs, a); ok {
			msgs[i].Options = &descriptorpb.MessageOptions{
				MapEntry:                     proto.Bool(b%3 == 0),
				MessageSetWireFormat:         proto.Bool(b%5 == 0),
				NoStandardDescriptorAccessor: proto.Bool(b%2 == 0),
			}
		}
	}
}
