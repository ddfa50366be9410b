package jsonwire_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc/gateway/internal/jsonwire"
	"github.com/natsrpc/natsrpc/internal/descset"
	"github.com/natsrpc/natsrpc/internal/protofill"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// schema is what the tests transcode: every message type of the gaming
// schemas, of the library's test schema, of their imports (the
// well-known types, descriptor.proto's proto2 messages) and of kinds.proto
// below (every scalar kind, singular, optional, repeated, packed or not,
// in oneofs and maps with every key kind), as the gateway sees them:
// dynamic descriptors built from a descriptor set.
type schema struct {
	types []protoreflect.MessageDescriptor // sorted by full name
	res   resolver
	tr    *jsonwire.Transcoder
	// fill holds the same files with the well-known types linked into
	// this binary, whose messages protofill fills.
	fill *protoregistry.Files
}

var (
	schemaOnce sync.Once
	theSchema  *schema
)

// kindsFile declares a message with every kind of field.
func kindsFile() *descriptorpb.FileDescriptorProto {
	type T = descriptorpb.FieldDescriptorProto_Type
	scalars := []struct {
		name string
		typ  T
	}{
		{"d", descriptorpb.FieldDescriptorProto_TYPE_DOUBLE}, {"f", descriptorpb.FieldDescriptorProto_TYPE_FLOAT},
		{"i64", descriptorpb.FieldDescriptorProto_TYPE_INT64}, {"u64", descriptorpb.FieldDescriptorProto_TYPE_UINT64},
		{"i32", descriptorpb.FieldDescriptorProto_TYPE_INT32}, {"fx64", descriptorpb.FieldDescriptorProto_TYPE_FIXED64},
		{"fx32", descriptorpb.FieldDescriptorProto_TYPE_FIXED32}, {"b", descriptorpb.FieldDescriptorProto_TYPE_BOOL},
		{"s", descriptorpb.FieldDescriptorProto_TYPE_STRING}, {"by", descriptorpb.FieldDescriptorProto_TYPE_BYTES},
		{"u32", descriptorpb.FieldDescriptorProto_TYPE_UINT32}, {"sf32", descriptorpb.FieldDescriptorProto_TYPE_SFIXED32},
		{"sf64", descriptorpb.FieldDescriptorProto_TYPE_SFIXED64}, {"si32", descriptorpb.FieldDescriptorProto_TYPE_SINT32},
		{"si64", descriptorpb.FieldDescriptorProto_TYPE_SINT64},
	}
	msg := &descriptorpb.DescriptorProto{Name: proto.String("Kinds")}
	num := int32(1)
	field := func(name string, typ T, label descriptorpb.FieldDescriptorProto_Label) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum()}
		num++
		msg.Field = append(msg.Field, f)
		return f
	}
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	for _, s := range scalars {
		field("s_"+s.name, s.typ, opt)
	}
	for _, s := range scalars {
		field("r_"+s.name, s.typ, rep)
	}
	for _, s := range scalars {
		f := field("u_"+s.name, s.typ, rep)
		f.Options = &descriptorpb.FieldOptions{Packed: proto.Bool(false)}
	}
	for i, s := range scalars {
		f := field("o_"+s.name, s.typ, opt)
		f.Proto3Optional = proto.Bool(true)
		f.OneofIndex = proto.Int32(int32(1 + i))
	}
	msg.OneofDecl = append(msg.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("choice")})
	for _, s := range scalars {
		msg.OneofDecl = append(msg.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("_o_" + s.name)})
	}
	for _, s := range scalars[:3] {
		f := field("c_"+s.name, s.typ, opt)
		f.OneofIndex = proto.Int32(0)
	}
	f := field("c_kinds", descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, opt)
	f.TypeName, f.OneofIndex = proto.String(".jsonwiretest.Leaf"), proto.Int32(0)
	f = field("c_status", descriptorpb.FieldDescriptorProto_TYPE_ENUM, opt)
	f.TypeName, f.OneofIndex = proto.String(".jsonwiretest.Status"), proto.Int32(0)
	f = field("status", descriptorpb.FieldDescriptorProto_TYPE_ENUM, opt)
	f.TypeName = proto.String(".jsonwiretest.Status")
	f = field("statuses", descriptorpb.FieldDescriptorProto_TYPE_ENUM, rep)
	f.TypeName = proto.String(".jsonwiretest.Status")
	f = field("child", descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, opt)
	f.TypeName = proto.String(".jsonwiretest.Leaf")
	f = field("children", descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, rep)
	f.TypeName = proto.String(".jsonwiretest.Leaf")
	f = field("custom_json", descriptorpb.FieldDescriptorProto_TYPE_STRING, opt)
	f.JsonName = proto.String("renamed")
	// Maps: every key kind, and message, enum and Value values.
	keys := []struct {
		name string
		typ  T
	}{{"s", scalars[8].typ}, {"i32", scalars[4].typ}, {"i64", scalars[2].typ}, {"u32", scalars[10].typ}, {"u64", scalars[3].typ},
		{"si32", scalars[13].typ}, {"si64", scalars[14].typ}, {"fx32", scalars[6].typ}, {"fx64", scalars[5].typ},
		{"sf32", scalars[11].typ}, {"sf64", scalars[12].typ}, {"b", scalars[7].typ}}
	addMap := func(name string, key T, val T, valType string) {
		entry := &descriptorpb.DescriptorProto{
			Name:    proto.String(mapEntryName(name)),
			Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("key"), Number: proto.Int32(1), Type: key.Enum(), Label: opt.Enum(), JsonName: proto.String("key")},
				{Name: proto.String("value"), Number: proto.Int32(2), Type: val.Enum(), Label: opt.Enum(), JsonName: proto.String("value")},
			},
		}
		if valType != "" {
			entry.Field[1].TypeName = proto.String(valType)
		}
		msg.NestedType = append(msg.NestedType, entry)
		f := field(name, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, rep)
		f.TypeName = proto.String(".jsonwiretest.Kinds." + entry.GetName())
	}
	for _, k := range keys {
		addMap("m_"+k.name, k.typ, descriptorpb.FieldDescriptorProto_TYPE_STRING, "")
	}
	addMap("m_kinds", descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".jsonwiretest.Leaf")
	addMap("m_status", descriptorpb.FieldDescriptorProto_TYPE_INT32, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".jsonwiretest.Status")
	addMap("m_value", descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".google.protobuf.Value")
	addMap("m_bytes", descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_BYTES, "")
	addMap("m_double", descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, "")
	// Well-known types as fields.
	for _, w := range []string{"Any", "Timestamp", "Duration", "Struct", "Value", "ListValue", "FieldMask", "Empty",
		"BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value", "FloatValue", "DoubleValue", "StringValue", "BytesValue"} {
		f := field("w_"+w, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, opt)
		f.TypeName = proto.String(".google.protobuf." + w)
		f = field("rw_"+w, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, rep)
		f.TypeName = proto.String(".google.protobuf." + w)
	}
	f = field("null", descriptorpb.FieldDescriptorProto_TYPE_ENUM, opt)
	f.TypeName = proto.String(".google.protobuf.NullValue")
	f = field("nulls", descriptorpb.FieldDescriptorProto_TYPE_ENUM, rep)
	f.TypeName = proto.String(".google.protobuf.NullValue")
	return &descriptorpb.FileDescriptorProto{
		Name:    proto.String("jsonwiretest/kinds.proto"),
		Package: proto.String("jsonwiretest"),
		Syntax:  proto.String("proto3"),
		Dependency: []string{"google/protobuf/any.proto", "google/protobuf/timestamp.proto", "google/protobuf/duration.proto",
			"google/protobuf/struct.proto", "google/protobuf/field_mask.proto", "google/protobuf/empty.proto", "google/protobuf/wrappers.proto"},
		MessageType: []*descriptorpb.DescriptorProto{msg, {
			// Leaf nests (Kinds nesting itself would make protofill's
			// messages megabytes long).
			Name: proto.String("Leaf"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("s_i32"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum(), Label: opt.Enum()},
				{Name: proto.String("s_s"), Number: proto.Int32(2), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: opt.Enum()},
				{Name: proto.String("child"), Number: proto.Int32(3), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), Label: opt.Enum(), TypeName: proto.String(".jsonwiretest.Leaf")},
				{Name: proto.String("children"), Number: proto.Int32(4), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), Label: rep.Enum(), TypeName: proto.String(".jsonwiretest.Leaf")},
			},
		}},
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Status"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("STATUS_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("STATUS_ON"), Number: proto.Int32(1)},
				{Name: proto.String("STATUS_NEGATIVE"), Number: proto.Int32(-2)},
			},
		}},
	}
}

// mapEntryName is protoc's name of a map field's entry message.
func mapEntryName(field string) string {
	out := []byte{}
	upper := true
	for _, c := range []byte(field) {
		if c == '_' {
			upper = true
			continue
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		upper = false
		out = append(out, c)
	}
	return string(out) + "Entry"
}

func loadSchema(tb testing.TB) *schema {
	tb.Helper()
	schemaOnce.Do(func() {
		gaming, _ := testschema.GamingSet()
		files := slices.Clone(gaming.GetFile())
		extra := []protoreflect.FileDescriptor{natsrpctestv1.File_natsrpctest_v1_test_proto}
		for _, p := range []string{"google/protobuf/any.proto", "google/protobuf/timestamp.proto", "google/protobuf/duration.proto",
			"google/protobuf/struct.proto", "google/protobuf/field_mask.proto", "google/protobuf/empty.proto",
			"google/protobuf/wrappers.proto", "google/protobuf/descriptor.proto"} {
			fd, err := protoregistry.GlobalFiles.FindFileByPath(p)
			if err != nil {
				panic(err)
			}
			extra = append(extra, fd)
		}
		seen := map[string]bool{}
		for _, f := range files {
			seen[f.GetName()] = true
		}
		for _, f := range descset.Closure(extra...).GetFile() {
			if !seen[f.GetName()] {
				seen[f.GetName()] = true
				files = append(files, f)
			}
		}
		files = append(files, kindsFile())
		reg, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: files})
		if err != nil {
			panic(err)
		}
		s := &schema{res: resolver{dynamicpb.NewTypes(reg)}, fill: new(protoregistry.Files)}
		for _, f := range files {
			fd, err := protoregistry.GlobalFiles.FindFileByPath(f.GetName())
			if err != nil || !strings.HasPrefix(f.GetName(), "google/protobuf/") {
				fd, err = protodesc.NewFile(f, s.fill)
			}
			if err != nil {
				panic(err)
			}
			if err := s.fill.RegisterFile(fd); err != nil {
				panic(err)
			}
		}
		reg.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			var walk func(ms protoreflect.MessageDescriptors)
			walk = func(ms protoreflect.MessageDescriptors) {
				for i := 0; i < ms.Len(); i++ {
					md := ms.Get(i)
					if !md.IsMapEntry() {
						s.types = append(s.types, md)
					}
					walk(md.Messages())
				}
			}
			walk(fd.Messages())
			return true
		})
		slices.SortFunc(s.types, func(a, b protoreflect.MessageDescriptor) int {
			return cmpString(string(a.FullName()), string(b.FullName()))
		})
		s.tr = jsonwire.New(s.res)
		theSchema = s
	})
	return theSchema
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// resolver is the gateway's: the schema's types, then this binary's.
type resolver struct{ types *dynamicpb.Types }

func (r resolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	mt, err := r.types.FindMessageByName(name)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalTypes.FindMessageByName(name)
	}
	return mt, err
}

func (r resolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	mt, err := r.types.FindMessageByURL(url)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalTypes.FindMessageByURL(url)
	}
	return mt, err
}

func (r resolver) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	xt, err := r.types.FindExtensionByName(name)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalTypes.FindExtensionByName(name)
	}
	return xt, err
}

func (r resolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	xt, err := r.types.FindExtensionByNumber(message, field)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
	}
	return xt, err
}

// The gateway's protojson options (vanguard's JSON codec with the
// gateway's settings).
func (s *schema) unmarshalOptions() protojson.UnmarshalOptions {
	return protojson.UnmarshalOptions{Resolver: s.res, DiscardUnknown: true, AllowPartial: true}
}

func (s *schema) marshalOptions() protojson.MarshalOptions {
	return protojson.MarshalOptions{Resolver: s.res, AllowPartial: true}
}

// checkToWire holds ToWire to protojson on one input: when ToWire
// transcodes it, protojson must decode it to the same message. It
// reports whether ToWire transcoded it.
func (s *schema) checkToWire(t testing.TB, md protoreflect.MessageDescriptor, in []byte) bool {
	t.Helper()
	prefix := []byte("prefix")
	got, ok := s.tr.ToWire(slices.Clone(prefix), md, in)
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("%s: ToWire lost what dst held", md.FullName())
	}
	want := dynamicpb.NewMessage(md)
	werr := s.unmarshalOptions().Unmarshal(in, want)
	if !ok {
		if len(got) != len(prefix) {
			t.Fatalf("%s: ToWire declined %q but left %d bytes in dst", md.FullName(), in, len(got)-len(prefix))
		}
		return false
	}
	if werr != nil {
		t.Fatalf("%s: ToWire transcoded %q, which protojson refuses: %v", md.FullName(), in, werr)
	}
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: s.res}).Unmarshal(got[len(prefix):], m); err != nil {
		t.Fatalf("%s: ToWire of %q wrote undecodable bytes %x: %v", md.FullName(), in, got[len(prefix):], err)
	}
	if !proto.Equal(m, want) {
		t.Fatalf("%s: ToWire of %q differs from protojson's decoding:\n got %v\nwant %v", md.FullName(), in, m, want)
	}
	return true
}

// checkToJSON holds ToJSON to protojson on one input: when ToJSON
// transcodes it, proto.Unmarshal then protojson.Marshal must succeed and
// write the same JSON (protojson's, compacted: it adds spaces at random).
// It reports whether ToJSON transcoded it.
func (s *schema) checkToJSON(t testing.TB, md protoreflect.MessageDescriptor, wire []byte) bool {
	t.Helper()
	prefix := []byte(`{"x":`)
	got, ok := s.tr.ToJSON(slices.Clone(prefix), md, wire)
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("%s: ToJSON lost what dst held", md.FullName())
	}
	if !ok {
		if len(got) != len(prefix) {
			t.Fatalf("%s: ToJSON declined %x but left %d bytes in dst", md.FullName(), wire, len(got)-len(prefix))
		}
		return false
	}
	got = got[len(prefix):]
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: s.res}).Unmarshal(wire, m); err != nil {
		t.Fatalf("%s: ToJSON transcoded %x, which proto.Unmarshal refuses: %v", md.FullName(), wire, err)
	}
	want, err := s.marshalOptions().Marshal(m)
	if err != nil {
		t.Fatalf("%s: ToJSON transcoded %x, which protojson cannot write: %v", md.FullName(), wire, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, compact.Bytes()) {
		t.Fatalf("%s: ToJSON of %x:\n got %s\nwant %s", md.FullName(), wire, got, compact.Bytes())
	}
	return true
}

// samples returns realistic messages of md: protofill's, one per variant
// (so that every oneof member is set by one of them).
func (s *schema) samples(md protoreflect.MessageDescriptor) []proto.Message {
	d, err := s.fill.FindDescriptorByName(md.FullName())
	if err != nil {
		panic(err)
	}
	fmd := d.(protoreflect.MessageDescriptor)
	var fill proto.Message = dynamicpb.NewMessage(fmd)
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil && strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		fill = mt.New().Interface()
	}
	n := protofill.MaxOneofMembers(fmd)
	out := make([]proto.Message, 0, n)
	for v := range n {
		m := proto.Clone(fill)
		proto.Reset(m)
		b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(protofill.Fill(m, v))
		if err != nil {
			panic(err)
		}
		dm := dynamicpb.NewMessage(md)
		if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: s.res}).Unmarshal(b, dm); err != nil {
			panic(err)
		}
		out = append(out, dm)
	}
	return out
}

// TestRealisticMessagesTakeTheFastPath: every message of every type,
// filled as protofill fills them, transcodes both ways on the fast path,
// exactly as protojson does, with lowerCamelCase names and with the
// fields' own names.
func TestRealisticMessagesTakeTheFastPath(t *testing.T) {
	s := loadSchema(t)
	if len(s.types) < 300 {
		t.Fatalf("only %d message types loaded", len(s.types))
	}
	n := 0
	for _, md := range s.types {
		for i, m := range s.samples(md) {
			wire, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if !s.checkToJSON(t, md, wire) {
				t.Errorf("%s (variant %d): ToJSON declined a realistic message", md.FullName(), i)
			}
			for _, names := range []bool{false, true} {
				js, err := protojson.MarshalOptions{Resolver: s.res, UseProtoNames: names, AllowPartial: true}.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				if !s.checkToWire(t, md, js) {
					t.Errorf("%s (variant %d, proto names %v): ToWire declined a realistic message: %s", md.FullName(), i, names, js)
				}
			}
			n++
		}
	}
	t.Logf("%d messages of %d types", n, len(s.types))
}

// edge cases of the JSON mapping, on jsonwiretest.Kinds; "fast" says
// whether the fast path must take them (else it may decline, and
// protojson decides).
var toWireCases = []struct {
	json string
	fast bool
}{
	{`{}`, true},
	{` { } `, true},
	{`{"sI64":"-9223372036854775808","sU64":"18446744073709551615","sI32":-2147483648,"sU32":4294967295}`, true},
	{`{"sI64":9007199254740993,"sU64":"0","sFx64":"1","sSf64":"-1","sSi64":"-5","sSi32":-5,"sSf32":-7,"sFx32":7}`, true},
	{`{"sI32":"12"}`, true},
	{`{"sI32":1.0}`, false},
	{`{"sI32":1e2}`, false},
	{`{"sI32":" 1"}`, false},
	{`{"sI32":2147483648}`, false},
	{`{"sU32":-1}`, false},
	{`{"sI32":01}`, false},
	{`{"sD":"NaN","sF":"Infinity","rD":["-Infinity",1e308,"1.5",-0.0,5e-324],"rF":[3.4028235e38,"1e-45",-0]}`, true},
	{`{"sF":3.5e38}`, false},
	{`{"sD":1e400}`, false},
	{`{"sD":-0}`, true},
	{`{"sD":0}`, true},
	{`{"sB":true,"rB":[false,true,false]}`, true},
	{`{"sB":"true"}`, false},
	{`{"sS":"h\u00e9llo \"w\" \\ \/ \b\f\n\r\t \ud83d\ude00 ☃"}`, true},
	{`{"sS":"\ud83d"}`, false},
	{`{"sS":"\ude00\ud83d"}`, false},
	{`{"sS":"\u0000"}`, true},
	{"{\"sS\":\"a\tb\"}", false},
	{`{"sBy":"aGVsbG8=","rBy":["aGVsbG8","_-8=","-_8","","AA=="],"uBy":["",""]}`, true},
	{`{"sBy":"a"}`, false},
	{`{"sBy":"aGVs\nbG8="}`, false},
	{`{"status":"STATUS_ON","statuses":["STATUS_NEGATIVE",1,7,"STATUS_UNSPECIFIED"]}`, true},
	{`{"status":"STATUS_NOPE"}`, false},
	{`{"status":1.0}`, false},
	{`{"status":-2}`, true},
	{`{"status":0}`, true},
	{`{"status":null,"child":null,"rS":null,"mS":null,"sS":null}`, true},
	{`{"rS":[null]}`, false},
	{`{"children":[null]}`, false},
	{`{"null":null,"nulls":[null,"NULL_VALUE",0]}`, true},
	{`{"cI64":"1","cD":2}`, false},
	{`{"cI64":null,"cD":2}`, true},
	{`{"cKinds":{},"cStatus":null}`, true},
	{`{"oI32":0,"oS":"","oB":false,"oBy":"","oD":-0}`, true},
	{`{"s_i32":1,"sI32":2}`, false},
	{`{"sI32":1,"sI32":2}`, false},
	{`{"renamed":"x","custom_json":null}`, false},
	{`{"renamed":"x"}`, true},
	{`{"customJson":"x"}`, false},
	{`{"custom_json":"x"}`, true},
	{`{"unknownField":1}`, false},
	{`{"[ext]":1}`, false},
	{`{"mS":{"a":"1","b":"","":"3"},"mI32":{"-1":"a","2":"b"},"mB":{"true":"t","false":"f"}}`, true},
	{`{"mI64":{"-9223372036854775808":"x"},"mU64":{"18446744073709551615":"y"},"mSi32":{"-3":"z"},"mSf64":{"-4":"w"}}`, true},
	{`{"mFx32":{"4294967295":"a"},"mFx64":{"1":"b"},"mSf32":{"-1":"c"},"mSi64":{"-9":"d"},"mU32":{"0":"e"}}`, true},
	{`{"mS":{"a":"1","a":"2"}}`, false},
	{`{"mI32":{"1":"a","01":"b"}}`, false},
	{`{"mI32":{"+1":"a"}}`, true},
	{`{"mB":{"True":"a"}}`, false},
	{`{"mS":{"a":null}}`, false},
	{`{"mKinds":{"a":{"sI32":1},"b":{}},"mStatus":{"1":"STATUS_ON","2":0},"mValue":{"n":null,"l":[1,"a",{}],"o":{"k":true}}}`, true},
	{`{"mBytes":{"a":"AAEC"},"mDouble":{"x":"NaN","y":1.5}}`, true},
	{`{"mKinds":{"a":null}}`, false},
	{`{"child":{"child":{"child":{"sS":"deep","children":[{},{"sI32":3}]}}}}`, true},
	{`{"wTimestamp":"2024-02-29T23:59:59.123456789Z","wDuration":"-1.5s","rwTimestamp":["1970-01-01T00:00:00Z","2024-01-01T10:00:00+02:00"]}`, true},
	{`{"wTimestamp":"2024-02-30T00:00:00Z"}`, false},
	{`{"wTimestamp":"2024-01-01T00:00:00.1234567890Z"}`, false},
	{`{"wTimestamp":"0000-01-01T00:00:00Z"}`, false},
	{`{"wDuration":"315576000001s"}`, false},
	{`{"wDuration":"0.000000001s","rwDuration":["1s","-0.5s",".5s","+3s","0s"]}`, true},
	{`{"wDuration":"1.0000000001s"}`, false},
	{`{"wDuration":"1"}`, false},
	{`{"wStruct":{"a":1,"b":[true,null,"x",{"c":{}}],"d":{}},"rwStruct":[{}]}`, true},
	{`{"wValue":null,"rwValue":[null,1,"s",[],{}]}`, true},
	{`{"wListValue":[1,[2,[3]]],"rwListValue":[[],[null]]}`, true},
	{`{"wFieldMask":"a,bC.dE,f","rwFieldMask":["", " x "]}`, true},
	{`{"wFieldMask":"a_b"}`, false},
	{`{"wEmpty":{},"rwEmpty":[{},{}]}`, true},
	{`{"wEmpty":{"a":1}}`, false},
	{`{"wInt64Value":"5","wUInt64Value":"0","wBoolValue":false,"wStringValue":"","wBytesValue":"AA==","wDoubleValue":"NaN","wFloatValue":1,"wInt32Value":-1,"wUInt32Value":3}`, true},
	{`{"rwInt32Value":[1,0,null]}`, false},
	{`{"wAny":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1s"}}`, true},
	{`{"wAny":{"sI32":1,"@type":"type.googleapis.com/jsonwiretest.Kinds"}}`, true},
	{`{"wAny":{}}`, true},
	{`{"wAny":{"@type":"type.googleapis.com/nope.Nope"}}`, false},
	{`{"sI32":1,}`, false},
	{`{"sI32":1}x`, false},
	{`{"sI32":1} `, true},
	{`{"sI32" 1}`, false},
	{`{"sI32":tru}`, false},
	{`{"sB":truex}`, false},
	{`{"sI32":1e}`, false},
	{`[]`, false},
	{`null`, false},
	{``, false},
}

func TestToWireEdgeCases(t *testing.T) {
	s := loadSchema(t)
	md := s.find(t, "jsonwiretest.Kinds")
	for _, c := range toWireCases {
		if got := s.checkToWire(t, md, []byte(c.json)); c.fast && !got {
			t.Errorf("ToWire declined %s", c.json)
		}
	}
}

func (s *schema) find(t testing.TB, name string) protoreflect.MessageDescriptor {
	for _, md := range s.types {
		if string(md.FullName()) == name {
			return md
		}
	}
	t.Fatalf("no message %s", name)
	return nil
}

// TestToJSONEdgeCases: wire encodings protojson reads in its own ways.
func TestToJSONEdgeCases(t *testing.T) {
	s := loadSchema(t)
	md := s.find(t, "jsonwiretest.Kinds")
	num := func(name string) protoreflect.FieldNumber {
		return md.Fields().ByName(protoreflect.Name(name)).Number()
	}
	tag := func(name string, typ byte) []byte { return binary.AppendUvarint(nil, uint64(num(name))<<3|uint64(typ)) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	varint := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	lenp := func(b []byte) []byte { return append(varint(uint64(len(b))), b...) }
	cases := []struct {
		name string
		wire []byte
		fast bool
	}{
		{"last scalar wins", cat(tag("s_i32", 0), varint(1), tag("s_i32", 0), varint(2)), true},
		{"last zero clears", cat(tag("s_i32", 0), varint(1), tag("s_i32", 0), varint(0)), true},
		{"int32 from a 64-bit varint", cat(tag("s_i32", 0), varint(1<<32|5)), true},
		{"int32 truncated to zero", cat(tag("s_i32", 0), varint(1<<32)), true},
		{"negative zero double", cat(tag("s_d", 1), binary.LittleEndian.AppendUint64(nil, 1<<63)), true},
		{"packed and unpacked mixed", cat(tag("r_i32", 2), lenp(cat(varint(1), varint(2))), tag("r_i32", 0), varint(3)), true},
		{"empty packed run", cat(tag("r_i32", 2), lenp(nil)), true},
		{"fields out of order", cat(tag("status", 0), varint(1), tag("s_s", 2), lenp([]byte("x")), tag("s_i32", 0), varint(4)), true},
		{"repeated interleaved", cat(tag("r_s", 2), lenp([]byte("a")), tag("s_i32", 0), varint(4), tag("r_s", 2), lenp([]byte("b"))), true},
		{"oneof last member wins", cat(tag("c_i64", 0), varint(1), tag("c_d", 1), binary.LittleEndian.AppendUint64(nil, 0)), true},
		{"oneof first again", cat(tag("c_d", 1), binary.LittleEndian.AppendUint64(nil, 0), tag("c_i64", 0), varint(0)), true},
		{"map duplicate key, last wins", cat(tag("m_s", 2), lenp(cat([]byte{10}, lenp([]byte("k")), []byte{18}, lenp([]byte("1")))),
			tag("m_s", 2), lenp(cat([]byte{10}, lenp([]byte("k")), []byte{18}, lenp([]byte("2"))))), true},
		{"map entry without key or value", cat(tag("m_s", 2), lenp(nil), tag("m_kinds", 2), lenp(nil), tag("m_status", 2), lenp(nil)), true},
		{"map value message without value", cat(tag("m_value", 2), lenp(cat([]byte{10}, lenp([]byte("k"))))), false},
		{"map keys unsorted", cat(tag("m_i32", 2), lenp(cat([]byte{8}, varint(5))), tag("m_i32", 2), lenp(cat([]byte{8}, varint(uint64(1<<64-3))))), true},
		{"unknown fields skipped", cat([]byte{0xf8, 0xff, 0xff, 0x0f}, varint(1), tag("s_i32", 0), varint(3)), true},
		{"unknown enum number", cat(tag("status", 0), varint(99)), true},
		{"message field twice merges", cat(tag("child", 2), lenp(cat(tag("s_i32", 0), varint(1))), tag("child", 2), lenp(cat(tag("s_s", 2), lenp([]byte("x"))))), false},
		{"invalid UTF-8", cat(tag("s_s", 2), lenp([]byte{0xff})), false},
		{"wrong wire type", cat(tag("s_i32", 2), lenp(nil)), false},
		{"truncated", cat(tag("s_s", 2), varint(5), []byte("ab")), false},
		{"timestamp out of range", cat(tag("w_Timestamp", 2), lenp(cat([]byte{8}, varint(uint64(1<<63))))), false},
		{"timestamp", cat(tag("w_Timestamp", 2), lenp(cat([]byte{8}, varint(1700000000), []byte{16}, varint(120000000)))), true},
		{"empty timestamp", cat(tag("w_Timestamp", 2), lenp(nil)), true},
		{"duration signs differ", cat(tag("w_Duration", 2), lenp(cat([]byte{8}, varint(1), []byte{16}, varint(uint64(1<<64-1))))), false},
		{"negative duration", cat(tag("w_Duration", 2), lenp(cat([]byte{8}, varint(uint64(1<<64-2)), []byte{16}, varint(uint64(1<<64-500000000))))), true},
		{"empty value", cat(tag("w_Value", 2), lenp(nil)), false},
		{"value NaN", cat(tag("w_Value", 2), lenp(cat([]byte{17}, binary.LittleEndian.AppendUint64(nil, 0x7ff8000000000001)))), false},
		{"empty wrapper", cat(tag("w_Int64Value", 2), lenp(nil), tag("w_BytesValue", 2), lenp(nil)), true},
		{"empty any", cat(tag("w_Any", 2), lenp(nil)), true},
		{"any without type", cat(tag("w_Any", 2), lenp(cat([]byte{18}, lenp([]byte{8, 1})))), false},
		{"field mask irreversible", cat(tag("w_FieldMask", 2), lenp(cat([]byte{10}, lenp([]byte("a__b"))))), false},
		{"field mask", cat(tag("w_FieldMask", 2), lenp(cat([]byte{10}, lenp([]byte("a_b.c")), []byte{10}, lenp([]byte("d"))))), true},
		{"escapes", cat(tag("s_s", 2), lenp([]byte("\x00\x1f\"\\<>&\u2028\x7f"))), true},
	}
	for _, c := range cases {
		if got := s.checkToJSON(t, md, c.wire); got != c.fast && c.fast {
			t.Errorf("%s: ToJSON declined %x", c.name, c.wire)
		}
	}
}

// typed prefixes an input with the index of its message type, for the
// fuzz targets.
func typed(i int, b []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(i)), b...)
}

func (s *schema) pick(data []byte) (protoreflect.MessageDescriptor, []byte, bool) {
	if len(data) < 2 {
		return nil, nil, false
	}
	return s.types[int(binary.BigEndian.Uint16(data))%len(s.types)], data[2:], true
}

// FuzzToWire holds ToWire to protojson: whatever JSON ToWire transcodes,
// protojson decodes to the same message. Seeds: a realistic message of
// every type (both name styles) and the edge cases above.
func FuzzToWire(f *testing.F) {
	s := loadSchema(f)
	kinds := 0
	for i, md := range s.types {
		if md.FullName() == "jsonwiretest.Kinds" {
			kinds = i
		}
		for _, m := range s.samples(md)[:1] {
			for _, names := range []bool{false, true} {
				js, err := protojson.MarshalOptions{Resolver: s.res, UseProtoNames: names}.Marshal(m)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(typed(i, js))
			}
		}
	}
	for _, c := range toWireCases {
		f.Add(typed(kinds, []byte(c.json)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		md, in, ok := s.pick(data)
		if !ok {
			return
		}
		s.checkToWire(t, md, in)
	})
}

// FuzzToJSON holds ToJSON to protojson: whatever wire encoding ToJSON
// transcodes, proto.Unmarshal and protojson.Marshal write the same JSON.
func FuzzToJSON(f *testing.F) {
	s := loadSchema(f)
	for i, md := range s.types {
		for _, m := range s.samples(md)[:1] {
			b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(typed(i, b))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		md, in, ok := s.pick(data)
		if !ok {
			return
		}
		s.checkToJSON(t, md, in)
	})
}
