package breaking

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc/internal/testkit/schemagen"
)

// The soundness test checks the WIRE verdicts against reality: for every
// generated pair the checker calls WIRE-compatible (backward), random
// messages written with the old schema must parse with the new schema and
// keep every field both schemas know, up to the lossy conversions buf's
// WIRE rules knowingly allow:
//
//   - int32, int64, uint32, uint64 and bool share the varint encoding: the
//     new schema truncates to its width (int64 -> int32 keeps the low 32
//     bits), reinterprets the sign (int32 <-> uint32) and reads any
//     non-zero value as true (int -> bool);
//   - sint64 -> sint32 keeps the low 32 bits of the zigzag encoding;
//   - fixed32 <-> sfixed32 and fixed64 <-> sfixed64 reinterpret the sign;
//   - an enum number the new schema's closed enum does not declare (the
//     enum became closed, or the value was deleted with its number
//     reserved) is kept as an unknown field instead of the field's value;
//   - a field that loses explicit presence keeps its value but no longer
//     records that a zero value was set;
//   - a string field that gains UTF-8 validation (proto2 -> proto3, or the
//     utf8_validation feature) rejects invalid UTF-8 that the old schema
//     accepted. The generator only writes valid UTF-8, so this one is
//     documented but not exercised.
//
// For pairs that are also WIRE_JSON-compatible, the same messages written
// as JSON must parse with the new schema (unknown fields discarded) and
// keep their values, with one more allowance: int32 <-> uint32 and
// int64 <-> uint64 share a WIRE_JSON group although negative numbers do
// not parse as unsigned ones.

// soundnessPairs is the number of WIRE-compatible pairs checked.
func soundnessPairs() int {
	if s := os.Getenv("NATSRPC_SOUNDNESS_PAIRS"); s != "" {
		var n int
		if _, err := fmt.Sscan(s, &n); err == nil && n > 0 {
			return n
		}
	}
	return 300
}

type lossStats struct {
	viaJSON                                                                 bool
	messages, fields, truncations, unknownEnums, jsonMessages, jsonUnsigned int
}

func TestSoundnessWire(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(42, 4242))
	want := soundnessPairs()
	var stats lossStats
	checked, tried, jsonPairs := 0, 0, 0
	for checked < want && tried < want*40 {
		tried++
		g := schemagen.New(r, fmt.Sprintf("s%04d", tried), tried)
		base := g.Schema()
		cur, muts := g.Mutate(base, 1+r.IntN(3))
		oldFiles, err := schemagen.Compile(schemagen.Render(base))
		if err != nil {
			continue
		}
		newFiles, err := schemagen.Compile(schemagen.Render(cur))
		if err != nil {
			continue
		}
		oldImg, newImg := ImageFromDescriptors(oldFiles), ImageFromDescriptors(newFiles)
		vs, err := CheckImages(context.Background(), oldImg, newImg, Config{Use: []string{CategoryWire}})
		if err != nil {
			t.Fatalf("check: %v", err)
		}
		if len(vs) > 0 {
			continue
		}
		checked++
		jvs, err := CheckImages(context.Background(), oldImg, newImg, Config{Use: []string{CategoryWireJSON}})
		if err != nil {
			t.Fatalf("check: %v", err)
		}
		withJSON := len(jvs) == 0
		if withJSON {
			jsonPairs++
		}
		newMsgs := map[protoreflect.FullName]protoreflect.MessageDescriptor{}
		for _, f := range newFiles {
			collectMessages(f.Messages(), newMsgs)
		}
		oldMsgs := map[protoreflect.FullName]protoreflect.MessageDescriptor{}
		for _, f := range oldFiles {
			collectMessages(f.Messages(), oldMsgs)
		}
		names := make([]string, 0, len(oldMsgs))
		for n := range oldMsgs {
			names = append(names, string(n))
		}
		sort.Strings(names)
		for _, n := range names {
			od := oldMsgs[protoreflect.FullName(n)]
			nd, ok := newMsgs[od.FullName()]
			if !ok || od.IsMapEntry() {
				continue
			}
			for k := 0; k < 5; k++ {
				old := randomMessage(r, od, 0)
				data, err := proto.MarshalOptions{Deterministic: true}.Marshal(old)
				if err != nil {
					t.Fatalf("marshal: %v", err)
				}
				decoded := dynamicpb.NewMessage(nd)
				if err := (proto.UnmarshalOptions{Resolver: dynamicResolver(newFiles)}).Unmarshal(data, decoded); err != nil {
					t.Errorf("pair %s (mutations %v): %s written with the old schema does not parse with the new one: %v\nold:\n%s\nnew:\n%s",
						g.Prefix(), muts, n, err, schemagen.Dump(schemagen.Render(base)), schemagen.Dump(schemagen.Render(cur)))
					continue
				}
				stats.messages++
				if msg := compareMessages(old, decoded, &stats, false); msg != "" {
					t.Errorf("pair %s (mutations %v): %s lost data: %s\nold:\n%s\nnew:\n%s", g.Prefix(), muts, n, msg, schemagen.Dump(schemagen.Render(base)), schemagen.Dump(schemagen.Render(cur)))
				}
				if !withJSON {
					continue
				}
				js, err := protojson.Marshal(old)
				if err != nil {
					continue // e.g. NaN in a map key is not JSON; not the schema's fault
				}
				jdecoded := dynamicpb.NewMessage(nd)
				if err := (protojson.UnmarshalOptions{DiscardUnknown: true, Resolver: dynamicResolver(newFiles)}).Unmarshal(js, jdecoded); err != nil {
					if negativeUnsigned(err) {
						stats.jsonUnsigned++
						continue
					}
					t.Errorf("pair %s (mutations %v): %s written as JSON with the old schema does not parse with the new one: %v\n%s\nold:\n%s\nnew:\n%s",
						g.Prefix(), muts, n, err, js, schemagen.Dump(schemagen.Render(base)), schemagen.Dump(schemagen.Render(cur)))
					continue
				}
				stats.jsonMessages++
				if msg := compareMessages(old, jdecoded, &stats, true); msg != "" {
					t.Errorf("pair %s (mutations %v): %s lost data through JSON: %s", g.Prefix(), muts, n, msg)
				}
			}
		}
	}
	if checked < want {
		t.Fatalf("only %d WIRE-compatible pairs in %d tries", checked, tried)
	}
	t.Logf("soundness: %d WIRE-compatible pairs (%d also WIRE_JSON), %d binary and %d JSON messages decoded, %d fields compared; allowed losses: %d truncations or reinterpretations, %d unknown enum numbers, %d negative numbers rejected by unsigned JSON fields",
		checked, jsonPairs, stats.messages, stats.jsonMessages, stats.fields, stats.truncations, stats.unknownEnums, stats.jsonUnsigned)
}

// negativeUnsigned reports JSON numbers the new field's signedness cannot
// hold: a negative number for an unsigned field, or one above the signed
// maximum for a signed field (int32 <-> uint32, int64 <-> uint64,
// fixed32 <-> sfixed32 and fixed64 <-> sfixed64 share WIRE_JSON groups).
func negativeUnsigned(err error) bool {
	s := err.Error()
	for _, k := range []string{"uint32", "uint64", "fixed32", "fixed64", "int32", "int64", "sfixed32", "sfixed64"} {
		if strings.Contains(s, "invalid value for "+k+" field") {
			return true
		}
	}
	return false
}

func collectMessages(ms protoreflect.MessageDescriptors, out map[protoreflect.FullName]protoreflect.MessageDescriptor) {
	for i := 0; i < ms.Len(); i++ {
		m := ms.Get(i)
		out[m.FullName()] = m
		collectMessages(m.Messages(), out)
	}
}

// dynamicResolver resolves extensions of the given files for decoding.
func dynamicResolver(files []protoreflect.FileDescriptor) *dynamicTypes {
	return &dynamicTypes{files: files}
}

type dynamicTypes struct {
	files []protoreflect.FileDescriptor
}

func (d *dynamicTypes) FindExtensionByName(protoreflect.FullName) (protoreflect.ExtensionType, error) {
	return nil, errNotFound
}

func (d *dynamicTypes) FindExtensionByNumber(protoreflect.FullName, protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	return nil, errNotFound
}

func (d *dynamicTypes) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	for _, f := range d.files {
		if md := findMessage(f.Messages(), name); md != nil {
			return dynamicpb.NewMessageType(md), nil
		}
	}
	return nil, errNotFound
}

func (d *dynamicTypes) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		url = url[i+1:]
	}
	return d.FindMessageByName(protoreflect.FullName(url))
}

var errNotFound = protoregistry.NotFound

func findMessage(ms protoreflect.MessageDescriptors, name protoreflect.FullName) protoreflect.MessageDescriptor {
	for i := 0; i < ms.Len(); i++ {
		m := ms.Get(i)
		if m.FullName() == name {
			return m
		}
		if n := findMessage(m.Messages(), name); n != nil {
			return n
		}
	}
	return nil
}

// randomMessage fills a message with random values: every required field,
// about half of the others, at most one field per oneof.
func randomMessage(r *rand.Rand, md protoreflect.MessageDescriptor, depth int) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Cardinality() != protoreflect.Required && r.IntN(2) == 0 {
			continue
		}
		if fd.ContainingOneof() != nil && m.WhichOneof(fd.ContainingOneof()) != nil {
			continue
		}
		if fd.Message() != nil && !fd.IsMap() && depth >= 2 && fd.Cardinality() != protoreflect.Required {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := 0; j < 1+r.IntN(3); j++ {
				if fd.Message() != nil {
					l.Append(protoreflect.ValueOfMessage(randomMessage(r, fd.Message(), depth+1)))
				} else {
					l.Append(randomScalar(r, fd))
				}
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for j := 0; j < 1+r.IntN(3); j++ {
				k := randomScalar(r, fd.MapKey()).MapKey()
				if fd.MapValue().Message() != nil {
					mp.Set(k, protoreflect.ValueOfMessage(randomMessage(r, fd.MapValue().Message(), depth+1)))
				} else {
					mp.Set(k, randomScalar(r, fd.MapValue()))
				}
			}
		case fd.Message() != nil:
			m.Set(fd, protoreflect.ValueOfMessage(randomMessage(r, fd.Message(), depth+1)))
		default:
			m.Set(fd, randomScalar(r, fd))
		}
	}
	return m
}

func randomScalar(r *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	big := func() int64 {
		switch r.IntN(4) {
		case 0:
			return int64(r.IntN(10))
		case 1:
			return -int64(r.IntN(1000))
		case 2:
			return r.Int64() - r.Int64()
		default:
			return int64(r.Uint32())
		}
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(big()))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(big())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(big()))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(big()))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(r.NormFloat64() * 1000))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(r.NormFloat64() * 1e6)
	case protoreflect.StringKind:
		const letters = "abcdefghijklmnopqrstuvwxyzé€😀"
		rs := []rune(letters)
		var b strings.Builder
		for i := 0; i < r.IntN(8); i++ {
			b.WriteRune(rs[r.IntN(len(rs))])
		}
		return protoreflect.ValueOfString(b.String())
	case protoreflect.BytesKind:
		b := make([]byte, r.IntN(8))
		for i := range b {
			b[i] = byte(r.IntN(128))
		}
		return protoreflect.ValueOfBytes(b)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(r.IntN(vals.Len())).Number())
	}
	panic(fmt.Sprintf("unexpected kind %v", fd.Kind()))
}

// compareMessages checks that every field of old that decoded has its
// value in decoded, the new schema's message, up to the allowed losses. It
// returns a description of the first loss it cannot explain.
func compareMessages(old, decoded protoreflect.ProtoMessage, stats *lossStats, viaJSON bool) string {
	stats.viaJSON = viaJSON
	om, nm := old.ProtoReflect(), decoded.ProtoReflect()
	var problem string
	om.Range(func(ofd protoreflect.FieldDescriptor, ov protoreflect.Value) bool {
		nfd := nm.Descriptor().Fields().ByNumber(ofd.Number())
		if nfd == nil {
			return true // the new schema deleted it (number reserved)
		}
		if viaJSON && nfd.JSONName() != ofd.JSONName() {
			return true
		}
		stats.fields++
		if msg := compareValues(ofd, nfd, ov, nm, stats); msg != "" {
			problem = fmt.Sprintf("field %d (%s -> %s): %s", ofd.Number(), ofd.Name(), nfd.Name(), msg)
			return false
		}
		return true
	})
	return problem
}

func compareValues(ofd, nfd protoreflect.FieldDescriptor, ov protoreflect.Value, nm protoreflect.Message, stats *lossStats) string {
	switch {
	case ofd.IsMap():
		if !nfd.IsMap() {
			return "map became a non-map"
		}
		nmap := nm.Get(nfd).Map()
		var problem string
		ov.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			nk, ok := convertScalar(ofd.MapKey(), nfd.MapKey(), k.Value(), stats)
			if !ok {
				problem = "map key does not convert"
				return false
			}
			nv := nmap.Get(nk.MapKey())
			if !nv.IsValid() {
				problem = fmt.Sprintf("map key %v missing", k)
				return false
			}
			if msg := compareOne(ofd.MapValue(), nfd.MapValue(), v, nv, stats); msg != "" {
				problem = msg
				return false
			}
			return true
		})
		return problem
	case ofd.IsList():
		if !nfd.IsList() {
			return "list became a singular field"
		}
		ol, nl := ov.List(), nm.Get(nfd).List()
		j := 0
		for i := 0; i < ol.Len(); i++ {
			if undeclaredEnum(nfd, ol.Get(i), stats) {
				stats.unknownEnums++
				continue
			}
			if j >= nl.Len() {
				return fmt.Sprintf("list lost elements: %d of %d", nl.Len(), ol.Len())
			}
			if msg := compareOne(ofd, nfd, ol.Get(i), nl.Get(j), stats); msg != "" {
				return msg
			}
			j++
		}
		if j != nl.Len() {
			return fmt.Sprintf("list has %d elements, want %d", nl.Len(), j)
		}
		return ""
	default:
		if ofd.Enum() != nil && undeclaredEnum(nfd, ov, stats) {
			return ""
		}
		if nfd.IsList() || nfd.IsMap() {
			return "singular field became a list or map"
		}
		return compareOne(ofd, nfd, ov, nm.Get(nfd), stats)
	}
}

// undeclaredEnum reports (and counts) an enum number the new enum does
// not declare: a closed enum keeps it as an unknown field, and JSON
// decoding discards unknown enum names.
func undeclaredEnum(nfd protoreflect.FieldDescriptor, v protoreflect.Value, stats *lossStats) bool {
	if nfd.Enum() == nil || nfd.Enum().Values().ByNumber(v.Enum()) != nil {
		return false
	}
	if nfd.Enum().IsClosed() || stats.viaJSON {
		stats.unknownEnums++
		return true
	}
	return false
}

func compareOne(ofd, nfd protoreflect.FieldDescriptor, ov, nv protoreflect.Value, stats *lossStats) string {
	if ofd.Message() != nil {
		if nfd.Message() == nil {
			return "message became a scalar"
		}
		return compareMessages(ov.Message().Interface(), nv.Message().Interface(), stats, stats.viaJSON)
	}
	want, ok := convertScalar(ofd, nfd, ov, stats)
	if !ok {
		return fmt.Sprintf("%v cannot become %v", ofd.Kind(), nfd.Kind())
	}
	if !scalarEqual(want, nv) {
		return fmt.Sprintf("value %v became %v, want %v", ov.Interface(), nv.Interface(), want.Interface())
	}
	return ""
}

// convertScalar computes what the new schema reads from a value written
// with the old one, applying the allowed lossy conversions.
func convertScalar(ofd, nfd protoreflect.FieldDescriptor, v protoreflect.Value, stats *lossStats) (protoreflect.Value, bool) {
	ok, nk := ofd.Kind(), nfd.Kind()
	if ok == nk {
		return v, true
	}
	asUint64 := func() (uint64, bool) {
		switch ok {
		case protoreflect.Int32Kind, protoreflect.Sfixed32Kind:
			return uint64(int64(v.Int())), true
		case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
			return uint64(v.Int()), true
		case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
			return v.Uint(), true
		case protoreflect.BoolKind:
			if v.Bool() {
				return 1, true
			}
			return 0, true
		case protoreflect.EnumKind:
			return uint64(int64(v.Enum())), true
		case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
			return uint64(v.Int()), true
		}
		return 0, false
	}
	u, isNum := asUint64()
	var out protoreflect.Value
	switch {
	case ok == protoreflect.Sint64Kind && nk == protoreflect.Sint32Kind:
		// sint32 truncates the zigzag encoding, not the number.
		n := v.Int()
		z := uint32(uint64(n<<1) ^ uint64(n>>63))
		out = protoreflect.ValueOfInt32(int32(z>>1) ^ -int32(z&1))
	case ok == protoreflect.StringKind && nk == protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(v.String())), true
	case !isNum:
		return protoreflect.Value{}, false
	case nk == protoreflect.Int32Kind, nk == protoreflect.Sint32Kind, nk == protoreflect.Sfixed32Kind:
		out = protoreflect.ValueOfInt32(int32(u))
	case nk == protoreflect.Int64Kind, nk == protoreflect.Sint64Kind, nk == protoreflect.Sfixed64Kind:
		out = protoreflect.ValueOfInt64(int64(u))
	case nk == protoreflect.Uint32Kind, nk == protoreflect.Fixed32Kind:
		out = protoreflect.ValueOfUint32(uint32(u))
	case nk == protoreflect.Uint64Kind, nk == protoreflect.Fixed64Kind:
		out = protoreflect.ValueOfUint64(u)
	case nk == protoreflect.BoolKind:
		out = protoreflect.ValueOfBool(u != 0)
	case nk == protoreflect.EnumKind:
		out = protoreflect.ValueOfEnum(protoreflect.EnumNumber(int32(u)))
	default:
		return protoreflect.Value{}, false
	}
	if !scalarEqual(out, v) {
		stats.truncations++
	}
	return out, true
}

func scalarEqual(a, b protoreflect.Value) bool {
	switch x := a.Interface().(type) {
	case []byte:
		y, ok := b.Interface().([]byte)
		return ok && bytes.Equal(x, y)
	case float32:
		y, ok := b.Interface().(float32)
		return ok && (x == y || (math.IsNaN(float64(x)) && math.IsNaN(float64(y))))
	case float64:
		y, ok := b.Interface().(float64)
		return ok && (x == y || (math.IsNaN(x) && math.IsNaN(y)))
	default:
		return a.Interface() == b.Interface()
	}
}
