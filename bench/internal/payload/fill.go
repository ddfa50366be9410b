// Package payload measures the encoded size of realistic requests and
// responses of every RPC of the 22 services in binary protobuf, protojson
// and encoding/json.
//
// Messages are filled by Fill, which, unlike the tests' protofill (every
// field, two of everything, "name-3-é" strings), aims at what a service
// really sends: values shaped by the field's name (UUID request ids, W3C
// trace ids, ids like "region_3f9a1c2e", sentences for descriptions and
// longer text for content and prompts, fractions for confidences and
// scores, minor currency units for amounts, timestamps with nanoseconds),
// three elements per list and map, one member per oneof. Every singular
// field is set, as a full answer would be; proto3 omits zero values, so a
// sparser message would favour neither encoding.
package payload

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/natsrpc/natsrpc/bench/internal/workload"
)

// maxDepth bounds recursion (google.protobuf.Struct is recursive).
const maxDepth = 6

// listLen is the number of elements in every list and map.
const listLen = 3

var baseTime = time.Date(2026, 3, 14, 18, 42, 7, 312_845_000, time.UTC)

// Fill sets every field of m with a realistic value and returns m.
func Fill(m proto.Message) proto.Message {
	return fill(m, false)
}

// fill is Fill; with words, text fields get words drawn at random from the
// paragraph instead of a slice of it, so that text does not repeat
// verbatim across fields (the harder case for compression).
func fill(m proto.Message, words bool) proto.Message {
	f := &filler{words: words}
	f.message(m.ProtoReflect(), 0, "")
	return m
}

type filler struct {
	n     int
	words bool
}

func (f *filler) next() int {
	f.n++
	return f.n
}

// hash is a stable pseudo-random number for a field name and a counter.
func hash(s string, n int) uint32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", s, n)
	return h.Sum32()
}

func (f *filler) message(m protoreflect.Message, depth int, hint string) {
	md := m.Descriptor()
	switch md.FullName() {
	case "gaming.common.v1.Meta":
		proto.Merge(m.Interface(), workload.Meta("quest-system"))
		return
	case "google.protobuf.Timestamp":
		n := f.next()
		t := baseTime.Add(-time.Duration(hash(hint, n)%86400) * time.Second).Add(time.Duration(hash(hint, n+1)%1e9) * time.Nanosecond)
		proto.Merge(m.Interface(), timestamppb.New(t))
		return
	case "google.protobuf.Duration":
		n := f.next()
		proto.Merge(m.Interface(), durationpb.New(time.Duration(1+hash(hint, n)%3600)*time.Second+time.Duration(hash(hint, n+1)%1000)*time.Millisecond))
		return
	case "google.protobuf.Any":
		a, err := anypb.New(durationpb.New(1500 * time.Millisecond)) // e.g. a retry delay
		if err != nil {
			panic(err)
		}
		proto.Merge(m.Interface(), a)
		return
	case "google.protobuf.FieldMask":
		l := m.Mutable(md.Fields().ByName("paths")).List()
		l.Append(protoreflect.ValueOfString("display_name"))
		l.Append(protoreflect.ValueOfString("settings.graphics.shadow_quality"))
		return
	case "google.protobuf.Struct":
		st, err := structpb.NewStruct(map[string]any{
			"source": "designer_override", "weight": 0.35, "enabled": true, "variant": "night_shift_b",
		})
		if err != nil {
			panic(err)
		}
		proto.Merge(m.Interface(), st)
		return
	case "google.protobuf.Value":
		m.Set(md.Fields().ByName("string_value"), protoreflect.ValueOfString(f.str(hint, "value")))
		return
	case "google.protobuf.ListValue":
		l := m.Mutable(md.Fields().ByName("values")).List()
		for range listLen {
			e := l.NewElement()
			f.message(e.Message(), depth+1, hint)
			l.Append(e)
		}
		return
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && od.Fields().Get(0) != fd {
			continue // one member per oneof: the first
		}
		name := string(fd.Name())
		switch {
		case fd.IsList():
			if fd.Message() != nil && depth >= maxDepth {
				continue
			}
			l := m.Mutable(fd).List()
			for range listLen {
				if fd.Message() != nil {
					e := l.NewElement()
					f.message(e.Message(), depth+1, name)
					l.Append(e)
				} else {
					l.Append(f.scalar(fd, singular(name)))
				}
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil && depth >= maxDepth {
				continue
			}
			mp := m.Mutable(fd).Map()
			for j := range listLen {
				k := f.mapKey(fd.MapKey(), name, j)
				if fd.MapValue().Message() != nil {
					v := mp.NewValue()
					f.message(v.Message(), depth+1, name)
					mp.Set(k, v)
				} else {
					mp.Set(k, f.scalar(fd.MapValue(), name))
				}
			}
		case fd.Message() != nil:
			if depth >= maxDepth {
				continue
			}
			f.message(m.Mutable(fd).Message(), depth+1, name)
		default:
			m.Set(fd, f.scalar(fd, name))
		}
	}
}

func singular(name string) string {
	switch {
	case strings.HasSuffix(name, "_ids"):
		return strings.TrimSuffix(name, "s")
	case strings.HasSuffix(name, "ies"):
		return strings.TrimSuffix(name, "ies") + "y"
	case strings.HasSuffix(name, "s"):
		return strings.TrimSuffix(name, "s")
	}
	return name
}

var mapKeys = [][]string{
	{"region", "shard", "build"},
	{"graphics.shadow_quality", "audio.voice_volume", "gameplay.difficulty"},
	{"time_of_day", "weather", "zone"},
}

func (f *filler) mapKey(fd protoreflect.FieldDescriptor, name string, j int) protoreflect.MapKey {
	switch fd.Kind() {
	case protoreflect.StringKind:
		keys := mapKeys[hash(name, 0)%uint32(len(mapKeys))]
		return protoreflect.ValueOfString(keys[j]).MapKey()
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(j%2 == 0).MapKey()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(j + 1)).MapKey()
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(j + 1)).MapKey()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(j + 1)).MapKey()
	default:
		return protoreflect.ValueOfUint64(uint64(j + 1)).MapKey()
	}
}

const lorem = "The wolves have grown bolder since the bandits started hunting deer in the valley, and the " +
	"east gate guards now close the gate at dusk. Merchants on the river road report missing wagons, " +
	"and the guild council has asked the captain to send scouts to the pine ridge before the next caravan " +
	"leaves. Rumours in the tavern speak of a red-cloaked stranger paying in old imperial coin."

// text is n bytes of text for a field: sentence, or with f.words words.
func (f *filler) text(n int, seed uint32) string {
	if f.words {
		return words(n, seed)
	}
	return sentence(n, seed)
}

var loremWords = strings.Fields(lorem)

// words is n bytes of the paragraph's words in a pseudo-random order.
func words(n int, seed uint32) string {
	var b strings.Builder
	x := seed
	for b.Len() < n {
		x = x*1664525 + 1013904223
		b.WriteString(loremWords[int(x>>16)%len(loremWords)])
		b.WriteByte(' ')
	}
	return strings.TrimSpace(b.String()[:n])
}

func sentence(n int, seed uint32) string {
	start := int(seed % 40)
	s := lorem[start:]
	for len(s) < n {
		s += " " + lorem
	}
	return strings.TrimSpace(s[:n])
}

const hexDigits = "0123456789abcdef"

func hexString(n int, seed uint32) string {
	var b strings.Builder
	x := seed
	for range n {
		x = x*1664525 + 1013904223
		b.WriteByte(hexDigits[x>>28])
	}
	return b.String()
}

func has(name string, parts ...string) bool {
	for _, p := range parts {
		if name == p || strings.HasSuffix(name, "_"+p) || strings.HasPrefix(name, p+"_") {
			return true
		}
	}
	return false
}

// str is a realistic string for a field called name.
func (f *filler) str(name, fallback string) string {
	seed := hash(name, f.next())
	switch {
	case name == "request_id" || name == "idempotency_key" || name == "correlation_id":
		h := hexString(32, seed)
		return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-9" + h[17:20] + "-" + h[20:]
	case name == "trace_id":
		return hexString(32, seed)
	case name == "span_id":
		return hexString(16, seed)
	case name == "checksum" || strings.HasSuffix(name, "sha256"):
		return hexString(64, seed)
	case has(name, "token", "cursor", "etag", "lease"):
		return "eyJvIjo" + hexString(20, seed)
	case strings.HasSuffix(name, "_id") || name == "id":
		prefix := strings.TrimSuffix(name, "_id")
		if i := strings.LastIndexByte(prefix, '_'); i >= 0 {
			prefix = prefix[i+1:]
		}
		return prefix + "_" + hexString(8, seed)
	case has(name, "locale"):
		return "en-US"
	case has(name, "language", "dialect"):
		return "de-AT"
	case has(name, "currency", "currency_code"):
		return "EUR"
	case has(name, "model"):
		return "story-weaver-70b"
	case has(name, "provider"):
		return "studio-gpu-pool"
	case has(name, "version", "tag", "build", "branch", "changelist"):
		return "5.4.2-" + hexString(7, seed)
	case has(name, "uri", "url", "endpoint", "path", "artifact"):
		return "https://cdn.studio.internal/builds/" + hexString(12, seed) + "/artifact.zip"
	case has(name, "topic", "subject", "pattern", "route", "prefix", "template"):
		return "gaming.world_state.v1.region." + hexString(6, seed)
	case has(name, "key", "setting", "feature", "capability", "scope", "namespace"):
		return "graphics.shadow_quality"
	case has(name, "name", "title", "label", "display", "speaker", "voice", "platform", "device", "gpu"):
		return "Ironvale East Gate"
	case has(name, "content", "text", "body", "backstory", "premise", "chunk", "output", "input", "narration", "prompt",
		"document", "data", "highlights", "notes", "source", "completion", "line", "arguments", "schema", "definition"):
		return f.text(280, seed)
	case has(name, "description", "summary", "explanation", "query", "consequence", "hint", "rationale", "transcript"):
		return f.text(140, seed)
	case has(name, "reason", "message", "note", "bark", "error", "cause", "issue", "tone", "mood", "style"):
		return f.text(60, seed)
	case has(name, "email"):
		return "ops+qa@studio.example"
	}
	return fallback + "_" + hexString(6, seed)
}

func (f *filler) scalar(fd protoreflect.FieldDescriptor, name string) protoreflect.Value {
	seed := hash(name, f.next())
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		if values.Len() == 1 {
			return protoreflect.ValueOfEnum(values.Get(0).Number())
		}
		return protoreflect.ValueOfEnum(values.Get(1 + int(seed)%(values.Len()-1)).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		v := int64(f.integer(name, seed))
		if fd.Kind() == protoreflect.Uint32Kind || fd.Kind() == protoreflect.Fixed32Kind {
			return protoreflect.ValueOfUint32(uint32(v))
		}
		return protoreflect.ValueOfInt32(int32(v))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(f.integer(name, seed))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(f.integer(name, seed)))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(f.float(name, seed)))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(f.float(name, seed))
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(f.str(name, "ironvale"))
	case protoreflect.BytesKind:
		n := 64
		if has(name, "data", "receipt", "payload", "blob") {
			n = 512
		}
		b := make([]byte, n)
		x := seed
		for i := range b {
			x = x*1664525 + 1013904223
			b[i] = byte(x >> 24)
		}
		return protoreflect.ValueOfBytes(b)
	}
	panic(fmt.Sprintf("payload: unsupported kind %v of %s", fd.Kind(), fd.FullName()))
}

// integer is a plausible integer for a field called name.
func (f *filler) integer(name string, seed uint32) int64 {
	switch {
	case has(name, "minor", "amount", "price", "subtotal", "tax", "total_minor"):
		return 499 + int64(seed%20000)
	case has(name, "revision", "sequence", "offset", "version", "index"):
		return 10_000 + int64(seed%90_000)
	case has(name, "tokens", "token_count", "mb", "bytes"):
		return 200 + int64(seed%4000)
	case has(name, "size", "count", "limit", "quantity", "attempts", "retries", "level", "priority", "k", "number", "tier"):
		return 1 + int64(seed%60)
	}
	return 1 + int64(seed%5000)
}

// float is a plausible number for a field called name.
func (f *filler) float(name string, seed uint32) float64 {
	frac := float64(seed%10000) / 10000
	switch {
	case has(name, "usd", "cost"):
		return 0.0001 + frac/100
	case name == "x" || name == "y" || name == "z" || has(name, "position"):
		return -20000 + frac*40000
	case has(name, "degrees", "celsius", "mps", "meters", "hour", "second", "scale", "latency", "rtt", "rate", "per"):
		return frac * 120
	}
	return frac // confidences, scores, fractions, weights, utilisation
}
