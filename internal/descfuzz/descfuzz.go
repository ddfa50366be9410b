// Package descfuzz mutates valid descriptor sets for fuzz targets. A fuzz
// target starts from a compiled schema ([Base]) and, for each input, applies the
// input as a program of structural edits ([Mutate]): delete, renumber,
// retype or rename elements, break references and imports, scramble source
// info, and set natsrpc custom options to odd values or to malformed
// extension bytes. The result is what a hostile or buggy client could
// send: mostly still well-formed protobuf, often no longer a valid schema.
//
// Only tests import this package.
package descfuzz

import (
	_ "embed"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
)

// Field numbers of natsrpc's custom options (natsrpc/v1/options.proto).
const (
	fileOptionField    protowire.Number = 87100
	serviceOptionField protowire.Number = 87101
	methodOptionField  protowire.Number = 87102
)

// Sources is the base schema: every method kind and natsrpc option, proto2,
// proto3 and editions files, imports of the well-known types and of
// natsrpc's options, comments, extensions, maps, oneofs and groups.
var Sources = map[string]string{
	"fuzz/common/v1/common.proto": `syntax = "proto3";

// Package comment.
package fuzz.common.v1;

import "google/protobuf/descriptor.proto";

option go_package = "example.com/fuzz/common/v1;commonv1";

extend google.protobuf.MessageOptions {
  // label is a custom message option.
  string label = 50001;
}

// Color is a color.
enum Color {
  COLOR_UNSPECIFIED = 0;
  COLOR_RED = 1; // trailing
  COLOR_GREEN = 2;
  reserved 5 to 9;
  reserved "COLOR_BLUE";
}

// Money is an amount.
message Money {
  option (label) = "money";
  string currency = 1;
  int64 units = 2 [json_name = "u"];
  map<string, int32> tags = 3;
  oneof extra {
    string note = 4;
    Color color = 5;
  }
  optional bool exact = 6;
  repeated Money parts = 7;
  message Nested {
    enum Kind {
      KIND_UNSPECIFIED = 0;
    }
    Kind kind = 1;
  }
  Nested nested = 8;
  reserved 20, 30 to 40;
  reserved "old";
}
`,
	"fuzz/svc/v1/svc.proto": `syntax = "proto3";

package fuzz.svc.v1;

import "fuzz/common/v1/common.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/timestamp.proto";
import "natsrpc/v1/options.proto";

option go_package = "example.com/fuzz/svc/v1;svcv1";
option (natsrpc.v1.file).subject_prefix = "acme";

// Req asks.
message Req {
  string id = 1;
  fuzz.common.v1.Money price = 2;
  google.protobuf.Timestamp at = 3;
}

// Res answers.
message Res {
  repeated string ids = 1;
}

// Quest does quests.
//
// It has every kind of method.
service Quest {
  option (natsrpc.v1.service) = {
    version: "1.2.3"
    queue_group: "workers"
    default_timeout: {seconds: 5}
  };
  // Get gets.
  rpc Get(Req) returns (Res) {
    option (natsrpc.v1.method) = {subject: "get.v1" timeout: {seconds: 1}};
    option idempotency_level = NO_SIDE_EFFECTS;
  }
  // Watch streams.
  rpc Watch(Req) returns (stream Res);
  rpc Upload(stream Req) returns (Res);
  rpc Chat(stream Req) returns (stream Res);
  // Notify is an event.
  rpc Notify(Req) returns (google.protobuf.Empty) {
    option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT delivery: EVENT_DELIVERY_BROADCAST};
  }
  rpc Record(Req) returns (google.protobuf.Empty) {
    option (natsrpc.v1.method) = {
      kind: METHOD_KIND_EVENT
      durable: {stream: "REC" consumer: "rec" replicas: 1 max_age: {seconds: 3600} backoff: [{seconds: 1}, {nanos: 500}]}
    };
  }
  rpc Old(Req) returns (Res) {
    option deprecated = true;
    option (natsrpc.v1.method).skip = true;
  }
}

// Admin administers.
service Admin {
  option (natsrpc.v1.service) = {subject: "admin" no_queue_group: true subject_prefix: "ops"};
  rpc Ping(google.protobuf.Empty) returns (google.protobuf.Timestamp);
}

service Skipped {
  option (natsrpc.v1.service).skip = true;
  rpc X(Req) returns (Res);
}
`,
	"fuzz/legacy/v1/legacy.proto": `syntax = "proto2";

package fuzz.legacy.v1;

option go_package = "example.com/fuzz/legacy/v1;legacyv1";

message Old {
  required string name = 1 [default = "x"];
  optional int32 n = 2 [default = -4];
  optional double d = 3 [default = inf];
  optional bytes b = 4 [default = "\377"];
  repeated int32 packed = 5 [packed = true];
  optional group G = 6 {
    optional int32 g = 1;
  }
  extensions 100 to max;
}

extend Old {
  optional string tag = 100;
}

service Legacy {
  rpc Do(Old) returns (Old);
}
`,
	"fuzz/ed/v1/ed.proto": `edition = "2023";

package fuzz.ed.v1;

option go_package = "example.com/fuzz/ed/v1;edv1";
option features.field_presence = IMPLICIT;

message Rec {
  string name = 1 [features.field_presence = EXPLICIT];
  repeated int32 vals = 2 [features.repeated_field_encoding = EXPANDED];
}

service Ed {
  rpc Put(Rec) returns (Rec);
}
`,
}

// Targets are the base schema's own files, sorted.
var Targets = []string{"fuzz/common/v1/common.proto", "fuzz/ed/v1/ed.proto", "fuzz/legacy/v1/legacy.proto", "fuzz/svc/v1/svc.proto"}

// baseData is Sources compiled with source info, its imports included,
// dependencies first, as a deterministically serialized
// FileDescriptorSet. It is generated, not compiled here, so that this
// package needs no compiler: the tests of lean packages (internal/spec,
// registry/lookup) fuzz with it, and a service's go mod tidy loads those
// tests' imports. TestDescfuzzBaseIsFresh in internal/testkit/testschema
// compiles Sources with protocompile and compares; `make generate`
// rewrites it.
//
//go:embed base.binpb
var baseData []byte

var (
	baseOnce sync.Once
	baseSet  *descriptorpb.FileDescriptorSet
	baseErr  error
)

// Base returns the base schema, Sources compiled with source info, its
// imports included, dependencies first; custom options are unknown fields,
// as the registry decodes them. Callers must clone it before changing it.
func Base() (*descriptorpb.FileDescriptorSet, error) {
	baseOnce.Do(func() { baseSet, baseErr = descset.Unmarshal(baseData) })
	return baseSet, baseErr
}

// Strings are the literals the edits draw names, subjects and other values
// from, before the program adds its own.
var Strings = []string{
	"", "x", "X", "_", "a.b", "a..b", ".a", "a.", "*", ">", "a.*", "a.>", "$SYS", "$SRV.x", "a b", "a\tb", "\x00", "\x7f",
	"é", "\xff\xfe", "Type", "go", "map", "func", "String", "Service", "Client", "Handler", "New", "nats", "natsrpc",
	"Quest", "Get", "Req", "fuzz.svc.v1", "fuzz.common.v1.Money", ".fuzz.svc.v1.Req", ".google.protobuf.Empty", ".nope.Missing",
	"1.2.3", "1.2", "01.2.3", "1.2.3-rc.1+b", "v1.2.3", "workers", "q", "REC", "rec-1", "a/b", "a/b;c", ";c", "a/b;",
	"example.com/x;1bad", "example.com/x y;pkg", "example.com/fuzz/svc/v1;svcv1", "*/", "//", "\r", "\r\n", "\n\n", "`",
	"\u2028", "\ufeff", "a\u0301", "google/protobuf/empty.proto", "natsrpc/v1/options.proto", "../x.proto", "/abs.proto",
	"a//b.proto", "fuzz/svc/v1/svc.proto", "fuzz/common/v1/common.proto", "x.proto", "y/z.proto",
}

// Malformed are option bytes that do not decode, or decode to something
// odd: truncated tags and lengths, wrong wire types, invalid UTF-8 in
// proto3 strings, unterminated groups, field number zero.
var Malformed = func() [][]byte {
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	return [][]byte{
		cat(tag(serviceOptionField, protowire.BytesType), []byte{100, 1}), // length beyond the end
		tag(serviceOptionField, protowire.BytesType),                      // no length
		cat(tag(serviceOptionField, protowire.VarintType), []byte{1}),     // a varint where a message goes
		tag(serviceOptionField, protowire.StartGroupType),                 // unterminated group
		tag(serviceOptionField, protowire.EndGroupType),                   // stray group end
		{0x80},       // truncated tag
		{0x00, 0x01}, // field number 0
		option(methodOptionField, []byte{0x0a, 0xff}),                                      // {subject: truncated}
		option(methodOptionField, stringField(1, "\xff")),                                  // {subject: invalid UTF-8}
		option(methodOptionField, []byte{0x10, 0x80}),                                      // {kind: truncated varint}
		option(methodOptionField, []byte{0x32, 0x05, 0x08}),                                // {durable: length beyond}
		option(methodOptionField, option(3, []byte{0x08, 0x80})),                           // {timeout: {seconds: truncated}}
		option(fileOptionField, stringField(1, "\xc0")),                                    // {subject_prefix: invalid UTF-8}
		option(serviceOptionField, option(6, tag(1, protowire.EndGroupType))),              // {default_timeout: {stray group end}}
		option(methodOptionField, option(6, stringField(1, "\xff\xfe"))),                   // {durable: {stream: invalid UTF-8}}
		option(serviceOptionField, cat(tag(2, protowire.Fixed32Type), []byte{1, 2, 3, 4})), // {subject as fixed32}
	}
}()

// ints are the numbers option edits draw from: zero, small, boundaries and
// out-of-range values of every width.
var ints = []int64{0, 1, 2, 3, 5, -1, 7, 100, 999999999, 1000000000, 86400, 86401, 1 << 31, -(1 << 31), 1 << 62, -(1 << 63)}

// program reads a fuzz input: each edit is an opcode and two operands.
type program struct {
	p       []byte
	strings []string
}

func (r *program) next() (op, a, b byte, ok bool) {
	if len(r.p) == 0 {
		return 0, 0, 0, false
	}
	op = r.p[0]
	if len(r.p) > 1 {
		a = r.p[1]
	}
	if len(r.p) > 2 {
		b = r.p[2]
	}
	r.p = r.p[min(3, len(r.p)):]
	return op, a, b, true
}

// take consumes up to n raw bytes of the program.
func (r *program) take(n int) []byte {
	n = min(n, len(r.p))
	out := r.p[:n]
	r.p = r.p[n:]
	return out
}

func (r *program) str(i byte) string { return r.strings[int(i)%len(r.strings)] }

func pick[T any](xs []T, i byte) (T, bool) {
	var zero T
	if len(xs) == 0 {
		return zero, false
	}
	return xs[int(i)%len(xs)], true
}

// elements lists the elements of a set that edits address.
type elements struct {
	files    []*descriptorpb.FileDescriptorProto
	msgs     []*descriptorpb.DescriptorProto
	fields   []*descriptorpb.FieldDescriptorProto
	enums    []*descriptorpb.EnumDescriptorProto
	services []*descriptorpb.ServiceDescriptorProto
	methods  []*descriptorpb.MethodDescriptorProto
	locs     []*descriptorpb.SourceCodeInfo_Location
}

func collect(set *descriptorpb.FileDescriptorSet) *elements {
	e := &elements{files: set.GetFile()}
	var walk func([]*descriptorpb.DescriptorProto)
	walk = func(ms []*descriptorpb.DescriptorProto) {
		for _, m := range ms {
			e.msgs = append(e.msgs, m)
			e.fields = append(e.fields, m.Field...)
			e.fields = append(e.fields, m.Extension...)
			e.enums = append(e.enums, m.EnumType...)
			walk(m.NestedType)
		}
	}
	for _, f := range set.GetFile() {
		walk(f.MessageType)
		e.fields = append(e.fields, f.Extension...)
		e.enums = append(e.enums, f.EnumType...)
		e.services = append(e.services, f.Service...)
		for _, s := range f.Service {
			e.methods = append(e.methods, s.Method...)
		}
		e.locs = append(e.locs, f.GetSourceCodeInfo().GetLocation()...)
	}
	return e
}

// appendUnknown adds raw bytes to an options message's unknown fields.
func appendUnknown(m proto.Message, b []byte) {
	r := m.ProtoReflect()
	r.SetUnknown(append(r.GetUnknown()[:len(r.GetUnknown()):len(r.GetUnknown())], b...))
}

// option wraps inner as the bytes of custom option num.
func option(num protowire.Number, inner []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, inner)
}

func stringField(num protowire.Number, s string) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func varintField(num protowire.Number, v int64) []byte {
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func duration(num protowire.Number, a, b byte) []byte {
	var inner []byte
	if a%3 != 0 {
		inner = append(inner, varintField(1, ints[int(a)%len(ints)])...)
	}
	if b%3 != 0 {
		inner = append(inner, varintField(2, ints[int(b)%len(ints)])...)
	}
	return option(num, inner)
}

// serviceOption returns one field of natsrpc.v1.ServiceOptions.
func (r *program) serviceOption(a, b byte) []byte {
	switch n := protowire.Number(a%7 + 1); n {
	case 1, 2, 3, 5: // subject_prefix, subject, queue_group, version
		return stringField(n, r.str(b))
	case 4, 7: // no_queue_group, skip
		return varintField(n, ints[int(b)%len(ints)])
	default: // default_timeout
		return duration(n, b, b>>4)
	}
}

// methodOption returns one field of natsrpc.v1.MethodOptions.
func (r *program) methodOption(a, b byte) []byte {
	switch n := protowire.Number(a%6 + 1); n {
	case 1: // subject
		return stringField(n, r.str(b))
	case 2, 5: // kind, delivery
		return varintField(n, ints[int(b)%len(ints)])
	case 3: // timeout
		return duration(n, b, b>>4)
	case 4: // skip
		return varintField(n, int64(b&1))
	default: // durable
		return option(n, r.durableOption(a>>3, b))
	}
}

// durableOption returns one field of natsrpc.v1.DurableEvent.
func (r *program) durableOption(a, b byte) []byte {
	switch n := protowire.Number(a%10 + 1); n {
	case 1, 2: // stream, consumer
		return stringField(n, r.str(b))
	case 3, 4, 6, 8: // storage, replicas, max_bytes, max_deliver
		return varintField(n, ints[int(b)%len(ints)])
	default: // max_age, duplicate_window, backoff, ack_wait
		return duration(n, b, b>>4)
	}
}

// Mutate applies program to set, in place. Every edit addresses elements
// by index modulo their count, so every program is valid.
func Mutate(set *descriptorpb.FileDescriptorSet, p []byte) {
	r := &program{p: p, strings: Strings}
	for {
		op, a, b, ok := r.next()
		if !ok {
			return
		}
		r.apply(set, op, a, b)
	}
}

// maxLong bounds the long strings a program makes: past every length
// limit natsrpc and NATS have, short enough to keep inputs fast.
const maxLong = 8 << 10

// NumOps is the number of distinct edits; opcodes are taken modulo it.
const NumOps = 40

func (r *program) apply(set *descriptorpb.FileDescriptorSet, op, a, b byte) {
	e := collect(set)
	switch op % NumOps {
	case 0: // add a string of the program's own to the pool
		s := string(r.take(int(a) % 64))
		r.strings = append(r.strings[:len(r.strings):len(r.strings)], s)
	case 1: // add a long string: a pooled one repeated, up to 8 KiB
		s := r.str(a) + "x"
		s = strings.Repeat(s, min(int(b)*8+1, maxLong/len(s)+1))
		r.strings = append(r.strings[:len(r.strings):len(r.strings)], s[:min(len(s), maxLong)])
	case 2: // delete a field
		if m, ok := pick(e.msgs, a); ok && len(m.Field) > 0 {
			i := int(b) % len(m.Field)
			m.Field = append(m.Field[:i], m.Field[i+1:]...)
		}
	case 3: // renumber a field
		if f, ok := pick(e.fields, a); ok {
			f.Number = proto.Int32(int32(ints[int(b)%len(ints)]) + int32(b>>4))
		}
	case 4: // retype a field
		if f, ok := pick(e.fields, a); ok {
			f.Type = descriptorpb.FieldDescriptorProto_Type(b % 20).Enum()
		}
	case 5: // re-point a type name
		if f, ok := pick(e.fields, a); ok {
			f.TypeName = proto.String(r.str(b))
		}
	case 6: // change a label
		if f, ok := pick(e.fields, a); ok {
			f.Label = descriptorpb.FieldDescriptorProto_Label(b % 5).Enum()
		}
	case 7: // rename a field or set its JSON name
		if f, ok := pick(e.fields, a); ok {
			if b&1 == 0 {
				f.Name = proto.String(r.str(b >> 1))
			} else {
				f.JsonName = proto.String(r.str(b >> 1))
			}
		}
	case 8: // move a field into a oneof, maybe one that does not exist
		if f, ok := pick(e.fields, a); ok {
			f.OneofIndex = proto.Int32(int32(b%5) - 1)
		}
	case 9: // delete a message
		if f, ok := pick(e.files, a); ok && len(f.MessageType) > 0 {
			i := int(b) % len(f.MessageType)
			f.MessageType = append(f.MessageType[:i], f.MessageType[i+1:]...)
		}
	case 10: // rename a message
		if m, ok := pick(e.msgs, a); ok {
			m.Name = proto.String(r.str(b))
		}
	case 11: // delete a file
		if len(set.File) > 1 {
			i := int(a) % len(set.File)
			set.File = append(set.File[:i], set.File[i+1:]...)
		}
	case 12: // change a package
		if f, ok := pick(e.files, a); ok {
			f.Package = proto.String(r.str(b))
		}
	case 13: // change the syntax or edition
		if f, ok := pick(e.files, a); ok {
			f.Syntax = proto.String([]string{"", "proto2", "proto3", "editions", "proto4"}[b%5])
			if b&8 != 0 {
				f.Edition = descriptorpb.Edition([]int32{0, 998, 999, 1000, 1001, 2, 99997, 0x7fffffff}[b>>4%8]).Enum()
			}
		}
	case 14: // drop, add or self-reference a dependency; scramble public and weak ones
		if f, ok := pick(e.files, a); ok {
			switch b % 5 {
			case 0:
				f.Dependency = nil
			case 1:
				f.Dependency = append(f.Dependency, f.GetName())
			case 2:
				f.Dependency = append(f.Dependency, r.str(b>>3))
			case 3:
				f.PublicDependency = append(f.PublicDependency, int32(ints[int(b>>3)%len(ints)]))
			default:
				f.WeakDependency = append(f.WeakDependency, int32(b>>3)-2)
			}
		}
	case 15: // delete or alias an enum value
		if en, ok := pick(e.enums, a); ok && len(en.Value) > 0 {
			i := int(b) % len(en.Value)
			if b&1 == 0 {
				en.Value = append(en.Value[:i], en.Value[i+1:]...)
			} else {
				en.Value = append(en.Value, &descriptorpb.EnumValueDescriptorProto{Name: proto.String(r.str(b >> 1)), Number: en.Value[i].Number})
			}
		}
	case 16: // scramble reserved and extension ranges
		if m, ok := pick(e.msgs, a); ok {
			lo := int32(ints[int(b)%len(ints)])
			m.ReservedRange = append(m.ReservedRange, &descriptorpb.DescriptorProto_ReservedRange{Start: proto.Int32(lo), End: proto.Int32(lo - int32(b>>4))})
			m.ExtensionRange = append(m.ExtensionRange, &descriptorpb.DescriptorProto_ExtensionRange{Start: proto.Int32(lo), End: proto.Int32(536870912)})
			m.ReservedName = append(m.ReservedName, r.str(b))
		}
	case 17: // scramble source code info spans and paths
		if l, ok := pick(e.locs, a); ok {
			switch b % 4 {
			case 0:
				l.Span = l.Span[:len(l.Span)%3]
			case 1:
				l.Span = []int32{-1, -1, -1, -1}
			case 2:
				l.Path = append(l.Path, int32(ints[int(b>>2)%len(ints)]))
			default:
				l.Path = l.Path[:len(l.Path)/2]
			}
		}
	case 18: // set comments
		if l, ok := pick(e.locs, a); ok {
			switch s := r.str(b >> 2); b % 3 {
			case 0:
				l.LeadingComments = proto.String(s)
			case 1:
				l.TrailingComments = proto.String(s)
			default:
				l.LeadingDetachedComments = append(l.LeadingDetachedComments, s)
			}
		}
	case 19: // drop source code info
		if f, ok := pick(e.files, a); ok {
			f.SourceCodeInfo = nil
		}
	case 20: // set a default value
		if f, ok := pick(e.fields, a); ok {
			f.DefaultValue = proto.String([]string{"", "1", "-1", "nan", "-inf", "x", "COLOR_RED", "\\377", "99999999999999999999", "true", "0x10", "1e400"}[b%12])
		}
	case 21: // change field options
		if f, ok := pick(e.fields, a); ok {
			f.Options = &descriptorpb.FieldOptions{
				Jstype:   descriptorpb.FieldOptions_JSType(b % 4).Enum(),
				Ctype:    descriptorpb.FieldOptions_CType(b % 3).Enum(),
				Packed:   proto.Bool(b&1 == 0),
				Lazy:     proto.Bool(b&2 == 0),
				Features: &descriptorpb.FeatureSet{FieldPresence: descriptorpb.FeatureSet_FieldPresence(b % 5).Enum()},
			}
		}
	case 22: // change a method's types and streaming
		if m, ok := pick(e.methods, a); ok {
			switch b % 4 {
			case 0:
				m.InputType = proto.String(r.str(b >> 2))
			case 1:
				m.OutputType = proto.String(r.str(b >> 2))
			case 2:
				m.ClientStreaming = proto.Bool(b&4 != 0)
			default:
				m.ServerStreaming = proto.Bool(b&4 != 0)
			}
		}
	case 23: // delete a service or method
		if f, ok := pick(e.files, a); ok && len(f.Service) > 0 {
			i := int(b) % len(f.Service)
			if b&1 == 0 {
				f.Service = append(f.Service[:i], f.Service[i+1:]...)
			} else if s := f.Service[i]; len(s.Method) > 0 {
				j := int(b>>1) % len(s.Method)
				s.Method = append(s.Method[:j], s.Method[j+1:]...)
			}
		}
	case 24: // change an extendee
		if f, ok := pick(e.fields, a); ok {
			f.Extendee = proto.String(r.str(b))
		}
	case 25: // duplicate a file, message, field, service or method
		switch b % 5 {
		case 0:
			if f, ok := pick(e.files, a); ok {
				set.File = append(set.File, proto.CloneOf(f))
			}
		case 1:
			if m, ok := pick(e.msgs, a); ok && len(m.Field) > 0 {
				m.Field = append(m.Field, proto.CloneOf(m.Field[int(b>>3)%len(m.Field)]))
			}
		case 2:
			if f, ok := pick(e.files, a); ok && len(f.MessageType) > 0 {
				f.MessageType = append(f.MessageType, proto.CloneOf(f.MessageType[int(b>>3)%len(f.MessageType)]))
			}
		case 3:
			if f, ok := pick(e.files, a); ok && len(f.Service) > 0 {
				f.Service = append(f.Service, proto.CloneOf(f.Service[int(b>>3)%len(f.Service)]))
			}
		default:
			if s, ok := pick(e.services, a); ok && len(s.Method) > 0 {
				s.Method = append(s.Method, proto.CloneOf(s.Method[int(b>>3)%len(s.Method)]))
			}
		}
	case 26: // set message options
		if m, ok := pick(e.msgs, a); ok {
			m.Options = &descriptorpb.MessageOptions{
				MapEntry:                     proto.Bool(b%3 == 0),
				MessageSetWireFormat:         proto.Bool(b%5 == 0),
				NoStandardDescriptorAccessor: proto.Bool(b%2 == 0),
				Deprecated:                   proto.Bool(b%7 == 0),
			}
		}
	case 27: // rename a service
		if s, ok := pick(e.services, a); ok {
			s.Name = proto.String(r.str(b))
		}
	case 28: // rename a method
		if m, ok := pick(e.methods, a); ok {
			m.Name = proto.String(r.str(b))
		}
	case 29: // add a natsrpc service option field
		if s, ok := pick(e.services, a); ok {
			if s.Options == nil {
				s.Options = &descriptorpb.ServiceOptions{}
			}
			appendUnknown(s.Options, option(serviceOptionField, r.serviceOption(a>>4|b<<4, b)))
		}
	case 30: // add a natsrpc method option field
		if m, ok := pick(e.methods, a); ok {
			if m.Options == nil {
				m.Options = &descriptorpb.MethodOptions{}
			}
			appendUnknown(m.Options, option(methodOptionField, r.methodOption(a>>4|b<<4, b)))
		}
	case 31: // set the natsrpc file option
		if f, ok := pick(e.files, a); ok {
			if f.Options == nil {
				f.Options = &descriptorpb.FileOptions{}
			}
			appendUnknown(f.Options, option(fileOptionField, stringField(1, r.str(b))))
		}
	case 32: // add malformed option bytes to a file, service or method
		raw, _ := pick(Malformed, b)
		if b&0x80 != 0 {
			raw = []byte(r.str(b))
		}
		switch a % 3 {
		case 0:
			if f, ok := pick(e.files, a>>2); ok {
				if f.Options == nil {
					f.Options = &descriptorpb.FileOptions{}
				}
				appendUnknown(f.Options, raw)
			}
		case 1:
			if s, ok := pick(e.services, a>>2); ok {
				if s.Options == nil {
					s.Options = &descriptorpb.ServiceOptions{}
				}
				appendUnknown(s.Options, raw)
			}
		default:
			if m, ok := pick(e.methods, a>>2); ok {
				if m.Options == nil {
					m.Options = &descriptorpb.MethodOptions{}
				}
				appendUnknown(m.Options, raw)
			}
		}
	case 33: // clear natsrpc and other options
		switch a % 3 {
		case 0:
			if f, ok := pick(e.files, b); ok {
				f.Options = nil
			}
		case 1:
			if s, ok := pick(e.services, b); ok {
				s.Options = nil
			}
		default:
			if m, ok := pick(e.methods, b); ok {
				m.Options = nil
			}
		}
	case 34: // set go_package
		if f, ok := pick(e.files, a); ok {
			if f.Options == nil {
				f.Options = &descriptorpb.FileOptions{}
			}
			f.Options.GoPackage = proto.String(r.str(b))
		}
	case 35: // rename a file
		if f, ok := pick(e.files, a); ok {
			f.Name = proto.String(r.str(b))
		}
	case 36: // set method options: idempotency and deprecation
		if m, ok := pick(e.methods, a); ok {
			if m.Options == nil {
				m.Options = &descriptorpb.MethodOptions{}
			}
			m.Options.IdempotencyLevel = descriptorpb.MethodOptions_IdempotencyLevel(int32(b%5) - 1).Enum()
			m.Options.Deprecated = proto.Bool(b&8 != 0)
		}
	case 37: // add unknown fields outside options
		raw := []byte(r.str(b))
		switch a % 3 {
		case 0:
			if f, ok := pick(e.files, a>>2); ok {
				appendUnknown(f, raw)
			}
		case 1:
			if m, ok := pick(e.msgs, a>>2); ok {
				appendUnknown(m, raw)
			}
		default:
			if f, ok := pick(e.fields, a>>2); ok {
				appendUnknown(f, raw)
			}
		}
	case 38: // add buf's image marker to a file: is_import, or garbage
		if f, ok := pick(e.files, a); ok {
			var inner []byte
			switch b % 3 {
			case 0:
				inner = varintField(1, int64(b>>2&1))
			case 1:
				inner = []byte(r.str(b >> 2))
			default:
				inner = append(varintField(1, 1), varintField(3, 1)...)
			}
			appendUnknown(f, option(8042, inner))
		}
	case 39: // rename an enum or enum value
		if en, ok := pick(e.enums, a); ok {
			if b&1 == 0 || len(en.Value) == 0 {
				en.Name = proto.String(r.str(b >> 1))
			} else {
				en.Value[int(b>>1)%len(en.Value)].Name = proto.String(r.str(b >> 1))
			}
		}
	}
}
