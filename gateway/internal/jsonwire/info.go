// Package jsonwire transcodes between protobuf's JSON mapping and its
// binary wire format directly from descriptors, without building a
// message: the gateway's fast path for JSON calls.
//
// It produces exactly what protojson produces (with the gateway's options:
// field names in lowerCamelCase, unpopulated fields left out, partial
// messages allowed, no unknown fields) for the inputs it handles, and
// declines the rest: every function reports ok=false, never an error of its
// own, for anything it does not handle or that protojson would refuse, and
// the caller then runs protojson (with dynamicpb), which produces the
// result or the error. The package's differential fuzz targets hold it to
// protojson on every message type of the gaming schemas and the test
// schema.
//
// Declined, for protojson to handle: JSON numbers for integers written with
// a fraction or an exponent ("1.0", "1e2"), non-canonical spellings that
// protojson's JSON reader tolerates, groups, extensions, MessageSets,
// message fields repeated on the wire (they merge), and anything malformed.
// Any in JSON requests is decoded by protojson on its own span (the rest
// of the request stays on the fast path).
package jsonwire

import (
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Resolver finds the message types of Any's type URLs and the extensions
// protojson may need: the gateway's type resolver.
type Resolver interface {
	FindMessageByURL(url string) (protoreflect.MessageType, error)
	FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error)
	FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error)
	FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error)
}

// Transcoder transcodes the messages of one set of schemas. It caches what
// it learns of each message type; make one per route generation, so that
// the cache goes with the descriptors. Safe for concurrent use.
type Transcoder struct {
	res   Resolver
	infos sync.Map // protoreflect.MessageDescriptor -> *msgInfo
}

// New returns a transcoder whose Any type URLs resolve with res.
func New(res Resolver) *Transcoder {
	return &Transcoder{res: res}
}

// wkt tells the well-known types protojson writes in a form of their own.
type wkt uint8

const (
	wktNone wkt = iota
	wktAny
	wktTimestamp
	wktDuration
	wktWrapper
	wktStruct
	wktListValue
	wktValue
	wktFieldMask
	wktEmpty
)

type msgInfo struct {
	desc      protoreflect.MessageDescriptor
	wkt       wkt
	fields    []*fieldInfo
	byName    map[string]*fieldInfo
	byNum     []*fieldInfo // by number when numbers are small
	numMap    map[protowire.Number]*fieldInfo
	oneofs    int
	hasExt    bool // the message has extension ranges
	supported bool // no groups, no MessageSet
}

type fieldInfo struct {
	desc     protoreflect.FieldDescriptor
	index    int
	num      protowire.Number
	kind     protoreflect.Kind
	wire     protowire.Type
	name     []byte // `"jsonName":`
	list     bool
	isMap    bool
	packed   bool
	presence bool // explicit presence (a zero value is written)
	oneof    int  // index of the containing oneof, or -1
	enum     *enumInfo
	msgDesc  protoreflect.MessageDescriptor
	msg      atomic.Pointer[msgInfo]
	key, val *fieldInfo // map entries
	isValue  bool       // google.protobuf.Value
	nullEnum bool       // google.protobuf.NullValue
}

type enumInfo struct {
	byName map[string]int32
	names  map[int32][]byte // quoted
	closed bool
}

// info returns what the transcoder knows of md.
func (t *Transcoder) info(md protoreflect.MessageDescriptor) *msgInfo {
	if v, ok := t.infos.Load(md); ok {
		return v.(*msgInfo)
	}
	mi := buildInfo(md)
	v, _ := t.infos.LoadOrStore(md, mi)
	return v.(*msgInfo)
}

// msgOf returns the info of a message field's type.
func (t *Transcoder) msgOf(f *fieldInfo) *msgInfo {
	if mi := f.msg.Load(); mi != nil {
		return mi
	}
	mi := t.info(f.msgDesc)
	f.msg.Store(mi)
	return mi
}

func wktOf(md protoreflect.MessageDescriptor) wkt {
	if md.ParentFile() == nil || md.ParentFile().Package() != "google.protobuf" || md.Parent() != md.ParentFile() {
		return wktNone
	}
	switch md.Name() {
	case "Any":
		return wktAny
	case "Timestamp":
		return wktTimestamp
	case "Duration":
		return wktDuration
	case "BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value", "FloatValue", "DoubleValue", "StringValue", "BytesValue":
		return wktWrapper
	case "Struct":
		return wktStruct
	case "ListValue":
		return wktListValue
	case "Value":
		return wktValue
	case "FieldMask":
		return wktFieldMask
	case "Empty":
		return wktEmpty
	}
	return wktNone
}

func buildInfo(md protoreflect.MessageDescriptor) *msgInfo {
	mi := &msgInfo{desc: md, wkt: wktOf(md), supported: true}
	fds := md.Fields()
	mi.fields = make([]*fieldInfo, fds.Len())
	mi.byName = make(map[string]*fieldInfo, 2*fds.Len())
	mi.oneofs = md.Oneofs().Len()
	mi.hasExt = md.ExtensionRanges().Len() > 0
	if opts, ok := md.Options().(*descriptorpb.MessageOptions); ok && opts.GetMessageSetWireFormat() {
		mi.supported = false
	}
	maxNum := protowire.Number(0)
	for i := 0; i < fds.Len(); i++ {
		f := buildField(fds.Get(i))
		f.index = i
		if f.kind == protoreflect.GroupKind || (f.isMap && (f.val.kind == protoreflect.GroupKind)) {
			mi.supported = false
		}
		mi.fields[i] = f
		maxNum = max(maxNum, f.num)
	}
	// protojson looks a name up as a JSON name first, then as the field's
	// name.
	for _, f := range mi.fields {
		mi.byName[f.desc.JSONName()] = f
	}
	for _, f := range mi.fields {
		if _, ok := mi.byName[f.desc.TextName()]; !ok {
			mi.byName[f.desc.TextName()] = f
		}
	}
	if maxNum <= 1024 {
		mi.byNum = make([]*fieldInfo, maxNum+1)
		for _, f := range mi.fields {
			mi.byNum[f.num] = f
		}
	} else {
		mi.numMap = make(map[protowire.Number]*fieldInfo, len(mi.fields))
		for _, f := range mi.fields {
			mi.numMap[f.num] = f
		}
	}
	return mi
}

func (mi *msgInfo) field(num protowire.Number) *fieldInfo {
	if mi.byNum != nil {
		if int(num) < len(mi.byNum) {
			return mi.byNum[num]
		}
		return nil
	}
	return mi.numMap[num]
}

func buildField(fd protoreflect.FieldDescriptor) *fieldInfo {
	f := &fieldInfo{
		desc:     fd,
		num:      fd.Number(),
		kind:     fd.Kind(),
		wire:     wireType(fd.Kind()),
		list:     fd.IsList(),
		isMap:    fd.IsMap(),
		packed:   fd.IsPacked(),
		presence: fd.HasPresence(),
		oneof:    -1,
	}
	f.name = appendString(nil, fd.JSONName())
	f.name = append(f.name, ':')
	if od := fd.ContainingOneof(); od != nil {
		f.oneof = od.Index()
		f.presence = true
	}
	switch f.kind {
	case protoreflect.EnumKind:
		f.enum = buildEnum(fd.Enum())
		f.nullEnum = fd.Enum().FullName() == "google.protobuf.NullValue"
	case protoreflect.MessageKind, protoreflect.GroupKind:
		f.msgDesc = fd.Message()
		f.isValue = fd.Message().FullName() == "google.protobuf.Value"
	}
	if f.isMap {
		f.key = buildField(fd.MapKey())
		f.val = buildField(fd.MapValue())
		f.key.presence, f.val.presence = true, true
	}
	return f
}

func buildEnum(ed protoreflect.EnumDescriptor) *enumInfo {
	e := &enumInfo{byName: map[string]int32{}, names: map[int32][]byte{}, closed: ed.IsClosed()}
	vals := ed.Values()
	for i := 0; i < vals.Len(); i++ {
		v := vals.Get(i)
		e.byName[string(v.Name())] = int32(v.Number())
		if _, ok := e.names[int32(v.Number())]; !ok { // the first of aliases
			e.names[int32(v.Number())] = appendString(nil, string(v.Name()))
		}
	}
	return e
}

func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.BytesType
}

// appendString appends s as a JSON string the way protojson writes it:
// '"' and '\\' escaped, control characters as \b, \f, \n, \r, \t or
// \u00xx (lowercase hex), everything else as is. ok is false when s is not
// valid UTF-8 (protojson refuses it).
func appendStringChecked(out []byte, s []byte) ([]byte, bool) {
	out = append(out, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				return out, false
			}
			i += n
			continue
		}
		if c >= ' ' && c != '"' && c != '\\' {
			i++
			continue
		}
		out = append(out, s[start:i]...)
		out = append(out, '\\')
		switch c {
		case '"', '\\':
			out = append(out, c)
		case '\b':
			out = append(out, 'b')
		case '\f':
			out = append(out, 'f')
		case '\n':
			out = append(out, 'n')
		case '\r':
			out = append(out, 'r')
		case '\t':
			out = append(out, 't')
		default:
			out = append(out, 'u')
			if c < 0x10 {
				out = append(out, "000"...)
			} else {
				out = append(out, "00"...)
			}
			out = strconv.AppendUint(out, uint64(c), 16)
		}
		i++
		start = i
	}
	out = append(out, s[start:]...)
	return append(out, '"'), true
}

// appendString is appendStringChecked for strings known to be valid
// (descriptor names).
func appendString(out []byte, s string) []byte {
	out, _ = appendStringChecked(out, []byte(s))
	return out
}
