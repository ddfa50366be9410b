package jsonwire

import (
	"bytes"
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// maxDepth bounds nesting on the fast path; deeper messages are declined
// (protojson allows 10,000 levels).
const maxDepth = 100

// ToWire appends to dst the binary encoding of the message of type md that
// in holds in JSON, as protojson.Unmarshal (AllowPartial) followed by
// proto.Marshal would, and reports ok. When ok is false dst is returned as
// it came and the caller must run protojson, which either decodes in or
// reports why not.
func (t *Transcoder) ToWire(dst []byte, md protoreflect.MessageDescriptor, in []byte) (out []byte, ok bool) {
	d := decoderPool.Get().(*decoder)
	d.t, d.in, d.i = t, in, 0
	defer func() {
		d.t, d.in = nil, nil
		if cap(d.buf) <= 64<<10 && cap(d.keys) <= 64<<10 {
			d.buf, d.keys = d.buf[:0], d.keys[:0]
			decoderPool.Put(d)
		}
	}()
	n := len(dst)
	out, ok = d.message(dst, t.info(md), 0)
	if !ok {
		return dst[:n], false
	}
	d.ws()
	if d.i != len(d.in) {
		return dst[:n], false
	}
	return out, true
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

type decoder struct {
	t    *Transcoder
	in   []byte
	i    int
	buf  []byte // unescaped strings, valid until the next string
	keys []byte // map keys seen, for the duplicate check
}

func (d *decoder) ws() {
	for d.i < len(d.in) {
		switch d.in[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.in) {
		return d.in[d.i]
	}
	return 0
}

func (d *decoder) consume(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

// delimited reports whether the token that ended at d.i is followed by a
// delimiter, as protojson's reader requires of literals and numbers.
func (d *decoder) delimited() bool {
	if d.i >= len(d.in) {
		return true
	}
	c := d.in[d.i]
	return !(c == '-' || c == '+' || c == '.' || c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9'))
}

// literal consumes the literal word at d.i.
func (d *decoder) literal(word string) bool {
	if d.peek() != word[0] || len(d.in)-d.i < len(word) || string(d.in[d.i:d.i+len(word)]) != word {
		return false
	}
	d.i += len(word)
	return d.delimited()
}

// str reads a JSON string: a slice of the input or of d.buf, valid until
// the next call.
func (d *decoder) str() ([]byte, bool) {
	if d.peek() != '"' {
		return nil, false
	}
	d.i++
	start := d.i
	for d.i < len(d.in) {
		c := d.in[d.i]
		if plain[c] {
			d.i++
			continue
		}
		switch {
		case c == '"':
			s := d.in[start:d.i]
			d.i++
			return s, true
		case c == '\\':
			d.buf = append(d.buf[:0], d.in[start:d.i]...)
			return d.strEscaped()
		case c < ' ':
			return nil, false
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(d.in[d.i:])
			if r == utf8.RuneError && n == 1 {
				return nil, false
			}
			d.i += n
		default:
			d.i++
		}
	}
	return nil, false
}

// plain marks the bytes a JSON string holds as they are: not '"', '\\',
// a control character or the start of a multi-byte character.
var plain = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (d *decoder) strEscaped() ([]byte, bool) {
	for d.i < len(d.in) {
		c := d.in[d.i]
		switch {
		case c == '"':
			d.i++
			return d.buf, true
		case c == '\\':
			if d.i+1 >= len(d.in) {
				return nil, false
			}
			e := d.in[d.i+1]
			d.i += 2
			switch e {
			case '"', '\\', '/':
				d.buf = append(d.buf, e)
			case 'b':
				d.buf = append(d.buf, '\b')
			case 'f':
				d.buf = append(d.buf, '\f')
			case 'n':
				d.buf = append(d.buf, '\n')
			case 'r':
				d.buf = append(d.buf, '\r')
			case 't':
				d.buf = append(d.buf, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return nil, false
				}
				if utf16.IsSurrogate(r) {
					if d.i+1 >= len(d.in) || d.in[d.i] != '\\' || d.in[d.i+1] != 'u' {
						return nil, false
					}
					d.i += 2
					r2, ok := d.hex4()
					if !ok {
						return nil, false
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return nil, false
					}
				}
				d.buf = utf8.AppendRune(d.buf, r)
			default:
				return nil, false
			}
		case c < ' ':
			return nil, false
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(d.in[d.i:])
			if r == utf8.RuneError && n == 1 {
				return nil, false
			}
			d.buf = append(d.buf, d.in[d.i:d.i+n]...)
			d.i += n
		default:
			d.buf = append(d.buf, c)
			d.i++
		}
	}
	return nil, false
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.in) {
		return 0, false
	}
	var r rune
	for _, c := range d.in[d.i : d.i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// number reads a JSON number (RFC 8259's grammar); integer reports one
// without fraction or exponent.
func (d *decoder) number() (raw []byte, integer bool, ok bool) {
	d.ws()
	return scanNumber(d.in, &d.i)
}

func scanNumber(in []byte, pos *int) (raw []byte, integer bool, ok bool) {
	i := *pos
	start := i
	if i < len(in) && in[i] == '-' {
		i++
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case i < len(in) && '1' <= in[i] && in[i] <= '9':
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			i++
		}
	default:
		return nil, false, false
	}
	integer = true
	if i < len(in) && in[i] == '.' {
		i++
		if i >= len(in) || in[i] < '0' || in[i] > '9' {
			return nil, false, false
		}
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			i++
		}
		integer = false
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		if i >= len(in) || in[i] < '0' || in[i] > '9' {
			return nil, false, false
		}
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			i++
		}
		integer = false
	}
	*pos = i
	if i < len(in) {
		c := in[i]
		if c == '-' || c == '+' || c == '.' || c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			return nil, false, false
		}
	}
	return in[start:i], integer, true
}

// plainNumber reports whether s is exactly a JSON number, and whether an
// integer: the strings protojson reads as numbers on the fast path.
func plainNumber(s []byte) (integer bool, ok bool) {
	i := 0
	raw, integer, ok := scanNumber(s, &i)
	return integer, ok && len(raw) == len(s)
}

// message decodes a value of the message type mi (its JSON object, or a
// well-known type's own form) and appends its encoding, without tag.
func (d *decoder) message(dst []byte, mi *msgInfo, depth int) ([]byte, bool) {
	if depth > maxDepth || !mi.supported {
		return dst, false
	}
	switch mi.wkt {
	case wktNone:
	case wktAny:
		return d.anyMessage(dst)
	case wktTimestamp:
		return d.timestamp(dst)
	case wktDuration:
		return d.duration(dst)
	case wktWrapper:
		if d.peek() == 'n' {
			return dst, false
		}
		return d.scalar(dst, mi.fields[0], tagged)
	case wktStruct:
		return d.mapObject(dst, mi.fields[0], depth)
	case wktListValue:
		return d.list(dst, mi.fields[0], depth)
	case wktValue:
		return d.value(dst, mi, depth)
	case wktFieldMask:
		return d.fieldMask(dst)
	case wktEmpty:
		return dst, d.consume('{') && d.consume('}')
	}
	if !d.consume('{') {
		return dst, false
	}
	if d.consume('}') {
		return dst, true
	}
	var seenSmall [2]uint64
	seen := seenSmall[:]
	if n := (len(mi.fields) + 63) / 64; n > len(seen) {
		seen = make([]uint64, n)
	}
	var oneofs uint64
	if mi.oneofs > 64 {
		return dst, false
	}
	for {
		key, ok := d.str()
		if !ok {
			return dst, false
		}
		f := mi.byName[string(key)]
		if f == nil {
			return dst, false // unknown, or an extension: protojson's to judge
		}
		if seen[f.index/64]&(1<<(f.index%64)) != 0 {
			return dst, false
		}
		seen[f.index/64] |= 1 << (f.index % 64)
		if !d.consume(':') {
			return dst, false
		}
		if d.peek() == 'n' && !f.isValue && !f.nullEnum {
			// null leaves a field unset (but google.protobuf.Value and
			// NullValue take it as a value).
			if !d.literal("null") {
				return dst, false
			}
		} else {
			switch {
			case f.list:
				dst, ok = d.list(dst, f, depth)
			case f.isMap:
				dst, ok = d.mapObject(dst, f, depth)
			default:
				if f.oneof >= 0 {
					if oneofs&(1<<f.oneof) != 0 {
						return dst, false
					}
					oneofs |= 1 << f.oneof
				}
				dst, ok = d.singular(dst, f, depth)
			}
			if !ok {
				return dst, false
			}
		}
		if d.consume(',') {
			continue
		}
		return dst, d.consume('}')
	}
}

// singular decodes the value of a singular field and appends it with its
// tag (nothing for a zero value without presence).
func (d *decoder) singular(dst []byte, f *fieldInfo, depth int) ([]byte, bool) {
	if f.kind == protoreflect.MessageKind {
		dst = protowire.AppendTag(dst, f.num, protowire.BytesType)
		dst, start := beginLen(dst)
		dst, ok := d.message(dst, d.t.msgOf(f), depth+1)
		if !ok {
			return dst, false
		}
		return endLen(dst, start), true
	}
	return d.scalar(dst, f, tagged)
}

func beginLen(dst []byte) ([]byte, int) {
	dst = append(dst, 0)
	return dst, len(dst)
}

// endLen writes the length of what was appended since beginLen.
func endLen(dst []byte, start int) []byte {
	n := len(dst) - start
	if n < 0x80 {
		dst[start-1] = byte(n)
		return dst
	}
	k := protowire.SizeVarint(uint64(n))
	for i := 1; i < k; i++ {
		dst = append(dst, 0)
	}
	copy(dst[start-1+k:], dst[start:start+n])
	protowire.AppendVarint(dst[:start-1], uint64(n))
	return dst
}

// How scalar writes a value.
const (
	untagged = iota // an element of a packed list
	tagged          // with its tag; a zero value without presence is left out, as proto.Marshal leaves it
	always          // with its tag, even a zero value (unpacked lists)
)

// scalar decodes a scalar or enum value of f and appends it as mode says.
func (d *decoder) scalar(dst []byte, f *fieldInfo, mode int) ([]byte, bool) {
	var v uint64  // varint or fixed value
	var b []byte  // string or bytes value
	var zero bool // the value is the zero value
	switch f.kind {
	case protoreflect.BoolKind:
		switch {
		case d.literal("true"):
			v = 1
		case d.literal("false"):
			zero = true
		default:
			return dst, false
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		bits := 64
		if f.kind == protoreflect.Int32Kind || f.kind == protoreflect.Sint32Kind || f.kind == protoreflect.Sfixed32Kind {
			bits = 32
		}
		s, ok := d.intText()
		if !ok {
			return dst, false
		}
		n, err := strconv.ParseInt(string(s), 10, bits)
		if err != nil {
			return dst, false
		}
		zero = n == 0
		switch f.kind {
		case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
			v = protowire.EncodeZigZag(n)
		case protoreflect.Sfixed32Kind:
			v = uint64(uint32(int32(n)))
		default:
			v = uint64(n)
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		bits := 64
		if f.kind == protoreflect.Uint32Kind || f.kind == protoreflect.Fixed32Kind {
			bits = 32
		}
		s, ok := d.intText()
		if !ok {
			return dst, false
		}
		n, err := strconv.ParseUint(string(s), 10, bits)
		if err != nil {
			return dst, false
		}
		v, zero = n, n == 0
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		bits := 64
		if f.kind == protoreflect.FloatKind {
			bits = 32
		}
		x, ok := d.float(bits)
		if !ok {
			return dst, false
		}
		if bits == 32 {
			v = uint64(math.Float32bits(float32(x)))
		} else {
			v = math.Float64bits(x)
		}
		zero = v == 0
	case protoreflect.StringKind:
		s, ok := d.str()
		if !ok {
			return dst, false
		}
		b, zero = s, len(s) == 0
	case protoreflect.BytesKind:
		s, ok := d.str()
		if !ok {
			return dst, false
		}
		enc := base64.StdEncoding
		if bytes.ContainsAny(s, "-_") {
			enc = base64.URLEncoding
		}
		if len(s)%4 != 0 {
			enc = enc.WithPadding(base64.NoPadding)
		}
		// The decoded bytes go after the tag and length, where the
		// encoded text is no longer needed: decode into a scratch copy.
		n := enc.DecodedLen(len(s))
		start := len(dst)
		if mode != untagged {
			dst = protowire.AppendTag(dst, f.num, protowire.BytesType)
		}
		dst = protowire.AppendVarint(dst, uint64(n)) // provisional
		lenAt := len(dst)
		dst = append(dst, make([]byte, n)...)
		m, err := enc.Decode(dst[lenAt:], s)
		if err != nil {
			return dst[:start], false
		}
		if m == 0 && mode == tagged && !f.presence {
			return dst[:start], true
		}
		if m != n {
			// Rewrite the length: padding made it shorter.
			body := append([]byte(nil), dst[lenAt:lenAt+m]...)
			dst = dst[:start]
			if mode != untagged {
				dst = protowire.AppendTag(dst, f.num, protowire.BytesType)
			}
			dst = protowire.AppendBytes(dst, body)
		}
		return dst, true
	case protoreflect.EnumKind:
		switch d.peek() {
		case '"':
			s, ok := d.str()
			if !ok {
				return dst, false
			}
			n, ok := f.enum.byName[string(s)]
			if !ok {
				return dst, false
			}
			v, zero = uint64(int64(n)), n == 0
		case 'n':
			if !f.nullEnum || !d.literal("null") {
				return dst, false
			}
			zero = true
		default:
			raw, integer, ok := d.number()
			if !ok || !integer {
				return dst, false
			}
			n, err := strconv.ParseInt(string(raw), 10, 32)
			if err != nil {
				return dst, false
			}
			v, zero = uint64(n), n == 0
		}
	default:
		return dst, false
	}
	if mode == tagged && zero && !f.presence {
		return dst, true
	}
	if mode != untagged {
		dst = protowire.AppendTag(dst, f.num, f.wire)
	}
	switch f.wire {
	case protowire.VarintType:
		dst = protowire.AppendVarint(dst, v)
	case protowire.Fixed32Type:
		dst = protowire.AppendFixed32(dst, uint32(v))
	case protowire.Fixed64Type:
		dst = protowire.AppendFixed64(dst, v)
	default:
		dst = protowire.AppendBytes(dst, b)
	}
	return dst, true
}

// intText reads an integer written as a plain JSON integer or a string
// holding one; other spellings protojson accepts ("1.0", "1e2") are
// declined.
func (d *decoder) intText() ([]byte, bool) {
	if d.peek() == '"' {
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		integer, ok := plainNumber(s)
		return s, ok && integer
	}
	raw, integer, ok := d.number()
	return raw, ok && integer
}

// float reads a float as protojson does: a JSON number, or a string
// holding one or "NaN", "Infinity", "-Infinity".
func (d *decoder) float(bits int) (float64, bool) {
	var raw []byte
	if d.peek() == '"' {
		s, ok := d.str()
		if !ok {
			return 0, false
		}
		switch string(s) {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
		if _, ok := plainNumber(s); !ok {
			return 0, false
		}
		raw = s
	} else {
		var ok bool
		raw, _, ok = d.number()
		if !ok {
			return 0, false
		}
	}
	x, err := strconv.ParseFloat(string(raw), bits)
	return x, err == nil
}

// list decodes a JSON array into the repeated field f.
func (d *decoder) list(dst []byte, f *fieldInfo, depth int) ([]byte, bool) {
	if !d.consume('[') {
		return dst, false
	}
	if d.consume(']') {
		return dst, true
	}
	var ok bool
	if f.packed {
		before := len(dst)
		dst = protowire.AppendTag(dst, f.num, protowire.BytesType)
		dst, start := beginLen(dst)
		for {
			if dst, ok = d.scalar(dst, f, untagged); !ok {
				return dst, false
			}
			if d.consume(',') {
				continue
			}
			if !d.consume(']') {
				return dst, false
			}
			if len(dst) == start {
				return dst[:before], true
			}
			return endLen(dst, start), true
		}
	}
	for {
		if f.kind == protoreflect.MessageKind {
			dst = protowire.AppendTag(dst, f.num, protowire.BytesType)
			var start int
			dst, start = beginLen(dst)
			if dst, ok = d.message(dst, d.t.msgOf(f), depth+1); !ok {
				return dst, false
			}
			dst = endLen(dst, start)
		} else {
			// Unpacked scalars (strings, bytes, or packed=false): each
			// with its tag, zero values included.
			if dst, ok = d.scalar(dst, f, always); !ok {
				return dst, false
			}
		}
		if d.consume(',') {
			continue
		}
		return dst, d.consume(']')
	}
}

// mapObject decodes a JSON object into the map field f: one entry
// message per key, key and value always written.
func (d *decoder) mapObject(dst []byte, f *fieldInfo, depth int) ([]byte, bool) {
	if !d.consume('{') {
		return dst, false
	}
	if d.consume('}') {
		return dst, true
	}
	keysAt := len(d.keys)
	defer func() { d.keys = d.keys[:keysAt] }()
	var seen map[string]struct{}
	count := 0
	for {
		name, ok := d.str()
		if !ok {
			return dst, false
		}
		// The key, canonical, for the duplicate check.
		var canon []byte
		var keyVal uint64
		var keyStr []byte
		switch f.key.kind {
		case protoreflect.StringKind:
			keyStr = name
			canon = name
		case protoreflect.BoolKind:
			switch string(name) {
			case "true":
				keyVal = 1
			case "false":
			default:
				return dst, false
			}
		case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
			protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
			bits := 64
			if f.key.kind == protoreflect.Int32Kind || f.key.kind == protoreflect.Sint32Kind || f.key.kind == protoreflect.Sfixed32Kind {
				bits = 32
			}
			n, err := strconv.ParseInt(string(name), 10, bits)
			if err != nil {
				return dst, false
			}
			switch f.key.kind {
			case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
				keyVal = protowire.EncodeZigZag(n)
			case protoreflect.Sfixed32Kind:
				keyVal = uint64(uint32(int32(n)))
			default:
				keyVal = uint64(n)
			}
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			bits := 64
			if f.key.kind == protoreflect.Uint32Kind || f.key.kind == protoreflect.Fixed32Kind {
				bits = 32
			}
			n, err := strconv.ParseUint(string(name), 10, bits)
			if err != nil {
				return dst, false
			}
			keyVal = n
		default:
			return dst, false
		}
		if canon == nil {
			canon = protowire.AppendVarint(nil, keyVal)
		}
		// Duplicate keys are refused by protojson.
		if seen != nil {
			if _, dup := seen[string(canon)]; dup {
				return dst, false
			}
			seen[string(canon)] = struct{}{}
		} else {
			if d.hasKey(keysAt, canon) {
				return dst, false
			}
			d.keys = protowire.AppendBytes(d.keys, canon)
			if count++; count > 16 {
				seen = map[string]struct{}{}
				for k := d.keys[keysAt:]; len(k) > 0; {
					v, n := protowire.ConsumeBytes(k)
					seen[string(v)] = struct{}{}
					k = k[n:]
				}
			}
		}
		if !d.consume(':') {
			return dst, false
		}
		dst = protowire.AppendTag(dst, f.num, protowire.BytesType)
		var start int
		dst, start = beginLen(dst)
		dst = protowire.AppendTag(dst, 1, f.key.wire)
		switch f.key.wire {
		case protowire.VarintType:
			dst = protowire.AppendVarint(dst, keyVal)
		case protowire.Fixed32Type:
			dst = protowire.AppendFixed32(dst, uint32(keyVal))
		case protowire.Fixed64Type:
			dst = protowire.AppendFixed64(dst, keyVal)
		default:
			dst = protowire.AppendBytes(dst, keyStr)
		}
		if f.val.kind == protoreflect.MessageKind {
			dst = protowire.AppendTag(dst, 2, protowire.BytesType)
			var vstart int
			dst, vstart = beginLen(dst)
			if dst, ok = d.message(dst, d.t.msgOf(f.val), depth+1); !ok {
				return dst, false
			}
			dst = endLen(dst, vstart)
		} else if dst, ok = d.scalar(dst, f.val, always); !ok {
			return dst, false
		}
		dst = endLen(dst, start)
		if d.consume(',') {
			continue
		}
		return dst, d.consume('}')
	}
}

func (d *decoder) hasKey(from int, key []byte) bool {
	for k := d.keys[from:]; len(k) > 0; {
		v, n := protowire.ConsumeBytes(k)
		if bytes.Equal(v, key) {
			return true
		}
		k = k[n:]
	}
	return false
}

// value decodes google.protobuf.Value's content (mi is Value's).
func (d *decoder) value(dst []byte, mi *msgInfo, depth int) ([]byte, bool) {
	switch c := d.peek(); {
	case c == 'n':
		if !d.literal("null") {
			return dst, false
		}
		return append(dst, 1<<3|byte(protowire.VarintType), 0), true
	case c == 't' || c == 'f':
		v := byte(0)
		if d.literal("true") {
			v = 1
		} else if !d.literal("false") {
			return dst, false
		}
		return append(dst, 4<<3|byte(protowire.VarintType), v), true
	case c == '"':
		s, ok := d.str()
		if !ok {
			return dst, false
		}
		dst = protowire.AppendTag(dst, 3, protowire.BytesType)
		return protowire.AppendBytes(dst, s), true
	case c == '-' || ('0' <= c && c <= '9'):
		raw, _, ok := d.number()
		if !ok {
			return dst, false
		}
		x, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return dst, false
		}
		dst = protowire.AppendTag(dst, 2, protowire.Fixed64Type)
		return protowire.AppendFixed64(dst, math.Float64bits(x)), true
	case c == '{' || c == '[':
		num := protowire.Number(5) // struct_value
		if c == '[' {
			num = 6 // list_value
		}
		f := mi.field(num)
		if f == nil || f.kind != protoreflect.MessageKind || depth+1 > maxDepth {
			return dst, false
		}
		dst = protowire.AppendTag(dst, num, protowire.BytesType)
		var start int
		var ok bool
		dst, start = beginLen(dst)
		dst, ok = d.message(dst, d.t.msgOf(f), depth+1)
		if !ok {
			return dst, false
		}
		return endLen(dst, start), true
	}
	return dst, false
}

// Timestamp and Duration bounds, as protojson checks them.
const (
	maxTimestampSeconds = 253402300799
	minTimestampSeconds = -62135596800
	maxDurationSeconds  = 315576000000
	maxNanos            = 999999999
)

func (d *decoder) timestamp(dst []byte) ([]byte, bool) {
	s, ok := d.str()
	if !ok {
		return dst, false
	}
	if secs, nanos, ok := parseUTC(s); ok {
		if secs < minTimestampSeconds || secs > maxTimestampSeconds {
			return dst, false
		}
		return appendSecondsNanos(dst, secs, nanos), true
	}
	text := string(s)
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return dst, false
	}
	secs := t.Unix()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds {
		return dst, false
	}
	i := strings.LastIndexByte(text, '.')
	j := strings.LastIndexAny(text, "Z-+")
	if i >= 0 && j >= i && j-i > len(".999999999") {
		return dst, false
	}
	return appendSecondsNanos(dst, secs, int32(t.Nanosecond())), true
}

// parseUTC reads the common form of a timestamp,
// YYYY-MM-DDTHH:MM:SS[.fraction]Z with at most nine fraction digits, as
// time.Parse(time.RFC3339Nano) reads it (days checked against the month);
// ok is false for anything else, which time.Parse then reads.
func parseUTC(s []byte) (secs int64, nanos int32, ok bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, 0, false
	}
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(s[0:4])
	month, ok2 := num(s[5:7])
	day, ok3 := num(s[8:10])
	hour, ok4 := num(s[11:13])
	minute, ok5 := num(s[14:16])
	sec, ok6 := num(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return 0, 0, false
	}
	if day > daysIn(month, year) {
		return 0, 0, false
	}
	frac := s[19 : len(s)-1]
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return 0, 0, false
		}
		n, ok := num(frac[1:])
		if !ok {
			return 0, 0, false
		}
		for i := len(frac) - 1; i < 9; i++ {
			n *= 10
		}
		nanos = int32(n)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, int(nanos), time.UTC)
	return t.Unix(), nanos, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func appendSecondsNanos(dst []byte, secs int64, nanos int32) []byte {
	if secs != 0 {
		dst = protowire.AppendTag(dst, 1, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(secs))
	}
	if nanos != 0 {
		dst = protowire.AppendTag(dst, 2, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(int64(nanos)))
	}
	return dst
}

func (d *decoder) duration(dst []byte) ([]byte, bool) {
	s, ok := d.str()
	if !ok {
		return dst, false
	}
	secs, nanos, ok := parseDuration(s)
	if !ok || secs < -maxDurationSeconds || secs > maxDurationSeconds {
		return dst, false
	}
	return appendSecondsNanos(dst, secs, nanos), true
}

// parseDuration reads protojson's Duration form: an optional sign,
// seconds, an optional fraction of up to 9 digits, and "s".
func parseDuration(b []byte) (int64, int32, bool) {
	if len(b) < 2 || b[len(b)-1] != 's' {
		return 0, 0, false
	}
	b = b[:len(b)-1]
	neg := false
	switch b[0] {
	case '-':
		neg = true
		b = b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, 0, false
	}
	var intp []byte
	switch {
	case b[0] == '0':
		b = b[1:]
	case '1' <= b[0] && b[0] <= '9':
		n := 1
		for n < len(b) && '0' <= b[n] && b[n] <= '9' {
			n++
		}
		intp, b = b[:n], b[n:]
	case b[0] == '.':
	default:
		return 0, 0, false
	}
	var nanos int64
	if len(b) > 0 {
		if b[0] != '.' {
			return 0, 0, false
		}
		b = b[1:]
		n := 0
		for n < len(b) && n < 9 && '0' <= b[n] && b[n] <= '9' {
			nanos = nanos*10 + int64(b[n]-'0')
			n++
		}
		if n < len(b) {
			return 0, 0, false
		}
		for ; n < 9; n++ {
			nanos *= 10
		}
	}
	var secs int64
	if len(intp) > 0 {
		var err error
		if secs, err = strconv.ParseInt(string(intp), 10, 64); err != nil {
			return 0, 0, false
		}
	}
	if neg {
		secs, nanos = -secs, -nanos
	}
	return secs, int32(nanos), true
}

func (d *decoder) fieldMask(dst []byte) ([]byte, bool) {
	s, ok := d.str()
	if !ok {
		return dst, false
	}
	str := strings.TrimSpace(string(s))
	if str == "" {
		return dst, true
	}
	for _, s0 := range strings.Split(str, ",") {
		if strings.Contains(s0, "_") {
			return dst, false
		}
		snake := make([]byte, 0, len(s0)+4)
		for i := 0; i < len(s0); i++ {
			c := s0[i]
			if 'A' <= c && c <= 'Z' {
				snake = append(snake, '_', c+'a'-'A')
				continue
			}
			snake = append(snake, c)
		}
		if !protoreflect.FullName(snake).IsValid() {
			return dst, false
		}
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendBytes(dst, snake)
	}
	return dst, true
}

// anyMessage decodes google.protobuf.Any with protojson, on the span of
// its JSON alone: its content is another message type's, found by URL.
func (d *decoder) anyMessage(dst []byte) ([]byte, bool) {
	d.ws()
	start := d.i
	if d.peek() != '{' || !d.skip(0) {
		return dst, false
	}
	var a anypb.Any
	if err := (protojson.UnmarshalOptions{AllowPartial: true, Resolver: d.t.res}).Unmarshal(d.in[start:d.i], &a); err != nil {
		return dst, false
	}
	out, err := proto.MarshalOptions{AllowPartial: true, Deterministic: true}.MarshalAppend(dst, &a)
	if err != nil {
		return dst, false
	}
	return out, true
}

// skip reads past one JSON value.
func (d *decoder) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := d.peek(); {
	case c == '{':
		d.i++
		if d.consume('}') {
			return true
		}
		for {
			if _, ok := d.str(); !ok || !d.consume(':') || !d.skip(depth+1) {
				return false
			}
			if d.consume(',') {
				continue
			}
			return d.consume('}')
		}
	case c == '[':
		d.i++
		if d.consume(']') {
			return true
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			if d.consume(',') {
				continue
			}
			return d.consume(']')
		}
	case c == '"':
		_, ok := d.str()
		return ok
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	default:
		_, _, ok := d.number()
		return ok
	}
}
