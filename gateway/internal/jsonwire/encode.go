package jsonwire

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ToJSON appends to dst the JSON of wire, the binary encoding of a
// message of type md, as proto.Unmarshal (AllowPartial) followed by
// protojson.Marshal (lowerCamelCase names, unpopulated fields left out)
// would write it (compact; protojson itself adds a space after some
// commas at random, which no reader sees). When ok is false dst is
// returned as it came and the caller must run protojson.
func (t *Transcoder) ToJSON(dst []byte, md protoreflect.MessageDescriptor, wire []byte) (out []byte, ok bool) {
	e := encoderPool.Get().(*encoder)
	e.t = t
	defer func() {
		e.t = nil
		if cap(e.entries) <= 4096 && cap(e.keys) <= 4096 {
			clear(e.entries[:cap(e.entries)]) // drop the references into wire
			clear(e.keys[:cap(e.keys)])
			e.entries, e.keys = e.entries[:0], e.keys[:0]
			encoderPool.Put(e)
		}
	}()
	n := len(dst)
	out, ok = e.message(dst, t.info(md), wire, nil, 0)
	if !ok {
		return dst[:n], false
	}
	return out, true
}

var encoderPool = sync.Pool{New: func() any { return new(encoder) }}

type encoder struct {
	t       *Transcoder
	entries []entry // a stack: each message's fields above its parent's
	keys    []mapEntry
}

// entry is one field occurrence on the wire.
type entry struct {
	f   *fieldInfo
	seq int32
	wt  protowire.Type
	v   uint64 // varint and fixed values
	b   []byte // length-delimited values
}

// scan parses one message's fields into e.entries; unknown fields are
// skipped (protojson does not write them). It declines wire types that do
// not fit their field, extensions and anything malformed.
func (e *encoder) scan(mi *msgInfo, wire []byte) bool {
	seq := int32(0)
	for len(wire) > 0 {
		num, wt, n := protowire.ConsumeTag(wire)
		if n < 0 || num > protowire.MaxValidNumber {
			return false
		}
		wire = wire[n:]
		f := mi.field(num)
		if f == nil {
			if mi.hasExt && mi.desc.ExtensionRanges().Has(num) {
				return false
			}
			m := protowire.ConsumeFieldValue(num, wt, wire)
			if m < 0 {
				return false
			}
			wire = wire[m:]
			continue
		}
		en := entry{f: f, seq: seq, wt: wt}
		seq++
		want := f.wire
		if f.isMap {
			want = protowire.BytesType
		}
		if wt != want && !(wt == protowire.BytesType && f.list && want != protowire.StartGroupType) {
			return false
		}
		switch wt {
		case protowire.VarintType:
			en.v, n = protowire.ConsumeVarint(wire)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(wire)
			en.v = uint64(x)
		case protowire.Fixed64Type:
			en.v, n = protowire.ConsumeFixed64(wire)
		case protowire.BytesType:
			en.b, n = protowire.ConsumeBytes(wire)
		default:
			return false
		}
		if n < 0 {
			return false
		}
		if f.kind == protoreflect.StringKind && wt == protowire.BytesType && !utf8.Valid(en.b) {
			// proto.Unmarshal checks every occurrence, even one a later
			// occurrence replaces.
			return false
		}
		wire = wire[n:]
		e.entries = append(e.entries, en)
	}
	return true
}

func byIndexThenSeq(a, b entry) int {
	if c := cmp.Compare(a.f.index, b.f.index); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// message writes a message of type mi from its wire encoding: its JSON
// object (with "@type" first when typeURL is set, inside an Any), or a
// well-known type's own form.
func (e *encoder) message(out []byte, mi *msgInfo, wire []byte, typeURL []byte, depth int) ([]byte, bool) {
	if depth > maxDepth || !mi.supported {
		return out, false
	}
	if typeURL == nil {
		switch mi.wkt {
		case wktNone, wktEmpty:
		case wktAny:
			return e.anyMessage(out, mi, wire, depth)
		case wktTimestamp, wktDuration:
			return e.secondsNanos(out, mi, wire)
		case wktWrapper:
			return e.wrapper(out, mi, wire)
		case wktStruct:
			return e.structMessage(out, mi, wire, depth)
		case wktListValue:
			return e.listValue(out, mi, wire, depth)
		case wktValue:
			return e.value(out, mi, wire, depth)
		case wktFieldMask:
			return e.fieldMask(out, mi, wire)
		}
	}
	base := len(e.entries)
	defer func() { e.entries = e.entries[:base] }()
	if !e.scan(mi, wire) {
		return out, false
	}
	ents := e.entries[base:]
	if !slices.IsSortedFunc(ents, byIndexThenSeq) {
		slices.SortStableFunc(ents, byIndexThenSeq)
	}
	// The member of each oneof that came last wins.
	var winnersSmall [16]*fieldInfo
	var winnerSeqSmall [16]int32
	winners, winnerSeq := winnersSmall[:], winnerSeqSmall[:]
	if mi.oneofs > len(winners) {
		winners, winnerSeq = make([]*fieldInfo, mi.oneofs), make([]int32, mi.oneofs)
	}
	for i := range ents {
		if o := ents[i].f.oneof; o >= 0 && (winners[o] == nil || ents[i].seq > winnerSeq[o]) {
			winners[o], winnerSeq[o] = ents[i].f, ents[i].seq
		}
	}
	out = append(out, '{')
	first := true
	if typeURL != nil {
		out = append(out, `"@type":`...)
		var ok bool
		if out, ok = appendStringChecked(out, typeURL); !ok {
			return out, false
		}
		first = false
	}
	for i := 0; i < len(ents); {
		f := ents[i].f
		j := i + 1
		for j < len(ents) && ents[j].f == f {
			j++
		}
		group := ents[i:j]
		i = j
		if f.oneof >= 0 && winners[f.oneof] != f {
			if f.kind == protoreflect.MessageKind {
				return out, false // proto.Unmarshal decodes it all the same
			}
			continue
		}
		mark, wasFirst := len(out), first
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, f.name...)
		var ok, empty bool
		switch {
		case f.isMap:
			out, ok = e.mapValue(out, f, group, depth)
		case f.list:
			out, empty, ok = e.list(out, f, group, depth)
		case f.kind == protoreflect.MessageKind:
			if len(group) > 1 {
				return out, false // merged on the wire: protojson's to do
			}
			out, ok = e.message(out, e.t.msgOf(f), group[0].b, nil, depth+1)
		default:
			last := &group[len(group)-1]
			if !f.presence && isZero(f, last.v, last.b) {
				empty, ok = true, true
				break
			}
			out, ok = e.scalar(out, f, last.v, last.b)
		}
		if !ok {
			return out, false
		}
		if empty {
			out, first = out[:mark], wasFirst
		}
	}
	return append(out, '}'), true
}

func isZero(f *fieldInfo, v uint64, b []byte) bool {
	switch f.kind {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return len(b) == 0
	case protoreflect.Int32Kind, protoreflect.Uint32Kind, protoreflect.EnumKind, protoreflect.FloatKind,
		protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return uint32(v) == 0
	case protoreflect.Sint32Kind:
		return uint32(v) == 0
	}
	return v == 0
}

// scalar writes a scalar or enum value.
func (e *encoder) scalar(out []byte, f *fieldInfo, v uint64, b []byte) ([]byte, bool) {
	switch f.kind {
	case protoreflect.BoolKind:
		if v != 0 {
			return append(out, "true"...), true
		}
		return append(out, "false"...), true
	case protoreflect.Int32Kind:
		return strconv.AppendInt(out, int64(int32(v)), 10), true
	case protoreflect.Sint32Kind:
		return strconv.AppendInt(out, int64(int32(protowire.DecodeZigZag(v&math.MaxUint32))), 10), true
	case protoreflect.Sfixed32Kind:
		return strconv.AppendInt(out, int64(int32(uint32(v))), 10), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(out, uint64(uint32(v)), 10), true
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
		out = append(out, '"')
		out = strconv.AppendInt(out, int64(v), 10)
		return append(out, '"'), true
	case protoreflect.Sint64Kind:
		out = append(out, '"')
		out = strconv.AppendInt(out, protowire.DecodeZigZag(v), 10)
		return append(out, '"'), true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		out = append(out, '"')
		out = strconv.AppendUint(out, v, 10)
		return append(out, '"'), true
	case protoreflect.FloatKind:
		return appendFloat(out, float64(math.Float32frombits(uint32(v))), 32), true
	case protoreflect.DoubleKind:
		return appendFloat(out, math.Float64frombits(v), 64), true
	case protoreflect.StringKind:
		return appendStringChecked(out, b)
	case protoreflect.BytesKind:
		out = append(out, '"')
		n := base64.StdEncoding.EncodedLen(len(b))
		out = slices.Grow(out, n+1)
		at := len(out)
		out = out[:at+n]
		base64.StdEncoding.Encode(out[at:], b)
		return append(out, '"'), true
	case protoreflect.EnumKind:
		if f.nullEnum {
			return append(out, "null"...), true
		}
		n := int32(v)
		if name, ok := f.enum.names[n]; ok {
			return append(out, name...), true
		}
		if f.enum.closed {
			return out, false // an unknown field to proto.Unmarshal
		}
		return strconv.AppendInt(out, int64(n), 10), true
	}
	return out, false
}

// appendFloat writes a float as protojson does: NaN and infinities as
// strings, exponents below 1e-6 and from 1e21 on, the shortest form that
// reads back.
func appendFloat(out []byte, n float64, bits int) []byte {
	switch {
	case math.IsNaN(n):
		return append(out, `"NaN"`...)
	case math.IsInf(n, 1):
		return append(out, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(out, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(n); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	out = strconv.AppendFloat(out, n, format, -1, bits)
	if format == 'e' {
		// 1e-07 is written 1e-7.
		if l := len(out); l >= 4 && out[l-4] == 'e' && out[l-3] == '-' && out[l-2] == '0' {
			out[l-2] = out[l-1]
			out = out[:l-1]
		}
	}
	return out
}

// list writes a repeated field's occurrences as one array; empty is true
// when it has no element (an empty packed run), which protojson leaves
// out.
func (e *encoder) list(out []byte, f *fieldInfo, group []entry, depth int) ([]byte, bool, bool) {
	out = append(out, '[')
	n := 0
	var ok bool
	for i := range group {
		en := &group[i]
		switch {
		case f.kind == protoreflect.MessageKind:
			if n > 0 {
				out = append(out, ',')
			}
			if out, ok = e.message(out, e.t.msgOf(f), en.b, nil, depth+1); !ok {
				return out, false, false
			}
			n++
		case en.wt == protowire.BytesType && f.wire != protowire.BytesType:
			for b := en.b; len(b) > 0; {
				var v uint64
				var m int
				switch f.wire {
				case protowire.VarintType:
					v, m = protowire.ConsumeVarint(b)
				case protowire.Fixed32Type:
					var x uint32
					x, m = protowire.ConsumeFixed32(b)
					v = uint64(x)
				case protowire.Fixed64Type:
					v, m = protowire.ConsumeFixed64(b)
				default:
					return out, false, false
				}
				if m < 0 {
					return out, false, false
				}
				b = b[m:]
				if n > 0 {
					out = append(out, ',')
				}
				if out, ok = e.scalar(out, f, v, nil); !ok {
					return out, false, false
				}
				n++
			}
		default:
			if n > 0 {
				out = append(out, ',')
			}
			if out, ok = e.scalar(out, f, en.v, en.b); !ok {
				return out, false, false
			}
			n++
		}
	}
	return append(out, ']'), n == 0, true
}

// mapEntry is one decoded map entry.
type mapEntry struct {
	seq    int
	k      uint64 // integer and bool keys
	ks     []byte // string keys
	v      uint64
	vb     []byte
	hasVal bool
}

// mapValue writes a map field's entries as one object, keys sorted as
// protojson sorts them, a later entry replacing an earlier one of the
// same key.
func (e *encoder) mapValue(out []byte, f *fieldInfo, group []entry, depth int) ([]byte, bool) {
	base := len(e.keys)
	defer func() { e.keys = e.keys[:base] }()
	for i := range group {
		me := mapEntry{seq: i}
		seenVal := false
		for b := group[i].b; len(b) > 0; {
			num, wt, n := protowire.ConsumeTag(b)
			if n < 0 || num > protowire.MaxValidNumber {
				return out, false
			}
			b = b[n:]
			var fi *fieldInfo
			switch num {
			case 1:
				fi = f.key
			case 2:
				fi = f.val
			}
			if fi == nil {
				m := protowire.ConsumeFieldValue(num, wt, b)
				if m < 0 {
					return out, false
				}
				b = b[m:]
				continue
			}
			if wt != fi.wire {
				return out, false
			}
			var v uint64
			var vb []byte
			switch wt {
			case protowire.VarintType:
				v, n = protowire.ConsumeVarint(b)
			case protowire.Fixed32Type:
				var x uint32
				x, n = protowire.ConsumeFixed32(b)
				v = uint64(x)
			case protowire.Fixed64Type:
				v, n = protowire.ConsumeFixed64(b)
			case protowire.BytesType:
				vb, n = protowire.ConsumeBytes(b)
			default:
				return out, false
			}
			if n < 0 {
				return out, false
			}
			if fi.kind == protoreflect.StringKind && !utf8.Valid(vb) {
				return out, false
			}
			b = b[n:]
			if num == 1 {
				me.k, me.ks = v, vb
				continue
			}
			if fi.kind == protoreflect.MessageKind && seenVal {
				return out, false // merged on the wire
			}
			seenVal = true
			me.v, me.vb, me.hasVal = v, vb, true
		}
		e.keys = append(e.keys, me)
	}
	ents := e.keys[base:]
	keyKind := f.key.kind
	compare := func(a, b mapEntry) int {
		var c int
		switch keyKind {
		case protoreflect.StringKind:
			c = bytes.Compare(a.ks, b.ks)
		case protoreflect.BoolKind:
			c = cmp.Compare(boolInt(a.k), boolInt(b.k))
		case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
			protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
			c = cmp.Compare(signedKey(keyKind, a.k), signedKey(keyKind, b.k))
		default:
			c = cmp.Compare(unsignedKey(keyKind, a.k), unsignedKey(keyKind, b.k))
		}
		if c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	}
	if !slices.IsSortedFunc(ents, compare) {
		slices.SortFunc(ents, compare)
	}
	out = append(out, '{')
	n := 0
	var ok bool
	for i := range ents {
		if i+1 < len(ents) && sameKey(keyKind, ents[i], ents[i+1]) {
			if f.val.kind == protoreflect.MessageKind {
				return out, false // proto.Unmarshal decodes it all the same
			}
			continue // replaced by a later entry
		}
		me := &ents[i]
		if n > 0 {
			out = append(out, ',')
		}
		n++
		switch keyKind {
		case protoreflect.StringKind:
			if out, ok = appendStringChecked(out, me.ks); !ok {
				return out, false
			}
		case protoreflect.BoolKind:
			if me.k != 0 {
				out = append(out, `"true"`...)
			} else {
				out = append(out, `"false"`...)
			}
		case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
			protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
			out = append(out, '"')
			out = strconv.AppendInt(out, signedKey(keyKind, me.k), 10)
			out = append(out, '"')
		default:
			out = append(out, '"')
			out = strconv.AppendUint(out, unsignedKey(keyKind, me.k), 10)
			out = append(out, '"')
		}
		out = append(out, ':')
		if f.val.kind == protoreflect.MessageKind {
			out, ok = e.message(out, e.t.msgOf(f.val), me.vb, nil, depth+1)
		} else {
			out, ok = e.scalar(out, f.val, me.v, me.vb)
		}
		if !ok {
			return out, false
		}
	}
	return append(out, '}'), true
}

func boolInt(v uint64) int {
	if v != 0 {
		return 1
	}
	return 0
}

func signedKey(k protoreflect.Kind, v uint64) int64 {
	switch k {
	case protoreflect.Int32Kind:
		return int64(int32(v))
	case protoreflect.Sint32Kind:
		return int64(int32(protowire.DecodeZigZag(v & math.MaxUint32)))
	case protoreflect.Sfixed32Kind:
		return int64(int32(uint32(v)))
	case protoreflect.Sint64Kind:
		return protowire.DecodeZigZag(v)
	}
	return int64(v)
}

func unsignedKey(k protoreflect.Kind, v uint64) uint64 {
	if k == protoreflect.Uint32Kind || k == protoreflect.Fixed32Kind {
		return uint64(uint32(v))
	}
	return v
}

func sameKey(k protoreflect.Kind, a, b mapEntry) bool {
	switch k {
	case protoreflect.StringKind:
		return bytes.Equal(a.ks, b.ks)
	case protoreflect.BoolKind:
		return (a.k != 0) == (b.k != 0)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return signedKey(k, a.k) == signedKey(k, b.k)
	}
	return unsignedKey(k, a.k) == unsignedKey(k, b.k)
}

// lastScalars reads the last value of fields 1 and 2 of a small
// well-known type (Timestamp, Duration, wrappers), declining wire types
// that do not fit.
func (e *encoder) lastScalars(mi *msgInfo, wire []byte) (v1, v2 entry, ok bool) {
	base := len(e.entries)
	defer func() { e.entries = e.entries[:base] }()
	if !e.scan(mi, wire) {
		return v1, v2, false
	}
	for _, en := range e.entries[base:] {
		if en.f.list || en.f.isMap || en.f.kind == protoreflect.MessageKind {
			return v1, v2, false
		}
		switch en.f.num {
		case 1:
			v1 = en
		case 2:
			v2 = en
		}
	}
	return v1, v2, true
}

func (e *encoder) secondsNanos(out []byte, mi *msgInfo, wire []byte) ([]byte, bool) {
	s, n, ok := e.lastScalars(mi, wire)
	if !ok {
		return out, false
	}
	secs, nanos := int64(s.v), int64(int32(n.v))
	start := len(out)
	out = append(out, '"')
	if mi.wkt == wktTimestamp {
		if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos > maxNanos {
			return out[:start], false
		}
		at := len(out)
		out = appendUTC(out, secs, nanos)
		out = trimFraction(out, at)
		out = append(out, 'Z', '"')
		return out, true
	}
	if secs < -maxDurationSeconds || secs > maxDurationSeconds || nanos < -maxNanos || nanos > maxNanos ||
		(secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
		return out[:start], false
	}
	if secs < 0 || nanos < 0 {
		out = append(out, '-')
		secs, nanos = -secs, -nanos
	}
	at := len(out)
	out = strconv.AppendInt(out, secs, 10)
	out = append(out, '.')
	frac := strconv.AppendInt(nil, nanos, 10)
	for i := len(frac); i < 9; i++ {
		out = append(out, '0')
	}
	out = append(out, frac...)
	out = trimFraction(out, at)
	return append(out, 's', '"'), true
}

// appendUTC writes time.Unix(secs, nanos).UTC() in the layout
// 2006-01-02T15:04:05.000000000, for years 1 to 9999.
func appendUTC(out []byte, secs, nanos int64) []byte {
	days := secs / 86400
	rem := secs % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
	z := days + 719468
	era := z / 146097
	if z < 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	two := func(out []byte, v int64) []byte { return append(out, byte('0'+v/10), byte('0'+v%10)) }
	out = append(out, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	out = two(out, m)
	out = append(out, '-')
	out = two(out, d)
	out = append(out, 'T')
	out = two(out, rem/3600)
	out = append(out, ':')
	out = two(out, rem/60%60)
	out = append(out, ':')
	out = two(out, rem%60)
	out = append(out, '.')
	for div := int64(100000000); div > 0; div /= 10 {
		out = append(out, byte('0'+nanos/div%10))
	}
	return out
}

// trimFraction drops trailing zeros of a nine-digit fraction by threes,
// and the fraction when it is all zeros, as protojson does.
func trimFraction(out []byte, at int) []byte {
	x := out[at:]
	for range 2 {
		if bytes.HasSuffix(x, []byte("000")) {
			x = x[:len(x)-3]
		}
	}
	if bytes.HasSuffix(x, []byte(".000")) {
		x = x[:len(x)-4]
	}
	return out[:at+len(x)]
}

func (e *encoder) wrapper(out []byte, mi *msgInfo, wire []byte) ([]byte, bool) {
	v, _, ok := e.lastScalars(mi, wire)
	if !ok {
		return out, false
	}
	return e.scalar(out, mi.fields[0], v.v, v.b)
}

func (e *encoder) structMessage(out []byte, mi *msgInfo, wire []byte, depth int) ([]byte, bool) {
	base := len(e.entries)
	defer func() { e.entries = e.entries[:base] }()
	if !e.scan(mi, wire) {
		return out, false
	}
	return e.mapValue(out, mi.fields[0], e.entries[base:], depth)
}

func (e *encoder) listValue(out []byte, mi *msgInfo, wire []byte, depth int) ([]byte, bool) {
	base := len(e.entries)
	defer func() { e.entries = e.entries[:base] }()
	if !e.scan(mi, wire) {
		return out, false
	}
	out, _, ok := e.list(out, mi.fields[0], e.entries[base:], depth)
	return out, ok
}

// value writes google.protobuf.Value: the member of its oneof that came
// last.
func (e *encoder) value(out []byte, mi *msgInfo, wire []byte, depth int) ([]byte, bool) {
	base := len(e.entries)
	defer func() { e.entries = e.entries[:base] }()
	if !e.scan(mi, wire) {
		return out, false
	}
	var last *entry
	msgs := 0
	for i := range e.entries[base:] {
		en := &e.entries[base+i]
		if en.f.oneof < 0 {
			continue
		}
		if en.f.kind == protoreflect.MessageKind {
			msgs++
		}
		last = en
	}
	if last == nil {
		return out, false // protojson refuses a Value with no kind
	}
	if msgs > 1 || (msgs == 1 && last.f.kind != protoreflect.MessageKind) {
		return out, false // a message member that does not win is decoded all the same
	}
	if last.f.kind == protoreflect.MessageKind {
		return e.message(out, e.t.msgOf(last.f), last.b, nil, depth+1)
	}
	if last.f.kind == protoreflect.DoubleKind {
		if x := math.Float64frombits(last.v); math.IsNaN(x) || math.IsInf(x, 0) {
			return out, false
		}
	}
	return e.scalar(out, last.f, last.v, last.b)
}

func (e *encoder) fieldMask(out []byte, mi *msgInfo, wire []byte) ([]byte, bool) {
	base := len(e.entries)
	defer func() { e.entries = e.entries[:base] }()
	if !e.scan(mi, wire) {
		return out, false
	}
	var joined []byte
	n := 0
	for _, en := range e.entries[base:] {
		if en.f.num != 1 || en.wt != protowire.BytesType {
			return out, false
		}
		s := en.b
		if !utf8.Valid(s) || !protoreflect.FullName(s).IsValid() {
			return out, false
		}
		at := len(joined)
		if n > 0 {
			joined = append(joined, ',')
			at++
		}
		n++
		upper := false
		for _, c := range s {
			if c == '_' {
				upper = true
				continue
			}
			if upper && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			upper = false
			joined = append(joined, c)
		}
		// The path must read back: snake_case of the camelCase is the path.
		var snake []byte
		for _, c := range joined[at:] {
			if 'A' <= c && c <= 'Z' {
				snake = append(snake, '_', c+'a'-'A')
				continue
			}
			snake = append(snake, c)
		}
		if !bytes.Equal(snake, s) {
			return out, false
		}
	}
	return appendStringChecked(out, joined)
}

// anyMessage writes google.protobuf.Any: its content's JSON with "@type"
// first, or for a well-known type {"@type": ..., "value": ...}.
func (e *encoder) anyMessage(out []byte, mi *msgInfo, wire []byte, depth int) ([]byte, bool) {
	base := len(e.entries)
	defer func() { e.entries = e.entries[:base] }()
	if !e.scan(mi, wire) {
		return out, false
	}
	var url, value []byte
	for _, en := range e.entries[base:] {
		switch {
		case en.f.num == 1 && en.wt == protowire.BytesType:
			url = en.b
		case en.f.num == 2 && en.wt == protowire.BytesType:
			value = en.b
		default:
			return out, false
		}
	}
	if len(url) == 0 {
		if len(value) == 0 {
			return append(out, '{', '}'), true
		}
		return out, false
	}
	if !utf8.Valid(url) {
		return out, false
	}
	mt, err := e.t.res.FindMessageByURL(string(url))
	if err != nil {
		return out, false
	}
	emi := e.t.info(mt.Descriptor())
	if emi.wkt == wktNone || emi.wkt == wktEmpty {
		return e.message(out, emi, value, url, depth+1)
	}
	start := len(out)
	out = append(out, `{"@type":`...)
	out, _ = appendStringChecked(out, url)
	out = append(out, `,"value":`...)
	out, ok := e.message(out, emi, value, nil, depth+1)
	if !ok {
		return out[:start], false
	}
	return append(out, '}'), true
}
