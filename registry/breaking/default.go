package breaking

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// fieldDefault is a field's default value in a comparable and a printable
// form.
type fieldDefault struct {
	comparable any
	printable  any
}

func (d fieldDefault) isZero() bool {
	return reflect.ValueOf(d.comparable).IsZero()
}

func canHaveDefault(fd protoreflect.FieldDescriptor) bool {
	return !fd.IsList() && !fd.IsMap() && fd.Message() == nil
}

func defaultOf(fd protoreflect.FieldDescriptor) fieldDefault {
	switch fd.Kind() {
	case protoreflect.BytesKind:
		data := fd.Default().Bytes()
		parts := make([]string, len(data))
		for i, b := range data {
			parts[i] = fmt.Sprintf("0x%X", b)
		}
		return fieldDefault{comparable: string(data), printable: "[" + strings.Join(parts, ",") + "]"}
	case protoreflect.StringKind:
		s := fd.Default().String()
		return fieldDefault{comparable: s, printable: fmt.Sprintf("%q", s)}
	case protoreflect.EnumKind:
		n := fd.Default().Enum()
		ed := fd.Enum()
		var printable string
		if v := ed.Values().ByNumber(n); v != nil {
			printable = fmt.Sprintf("%s.%s", ed.Name(), v.Name())
		} else {
			printable = fmt.Sprintf("%s.%d(?)", ed.Name(), n)
		}
		return fieldDefault{comparable: int32(n), printable: printable}
	default:
		v := fd.Default().Interface()
		return fieldDefault{comparable: v, printable: v}
	}
}

func defaultsEqual(prev, cur fieldDefault) bool {
	_, prevString := prev.comparable.(string)
	_, curString := cur.comparable.(string)
	if prevString || curString {
		return prev.comparable == cur.comparable
	}
	switch p := prev.comparable.(type) {
	case float32:
		if c, ok := cur.comparable.(float64); ok {
			return (math.IsNaN(float64(p)) && math.IsNaN(c)) || p == float32(c)
		}
	case float64:
		if c, ok := cur.comparable.(float32); ok {
			return (math.IsNaN(p) && math.IsNaN(float64(c))) || float32(p) == c
		}
	}
	pv, pNaN := asBigFloat(prev.comparable)
	cv, cNaN := asBigFloat(cur.comparable)
	if pNaN && cNaN {
		return true
	}
	if pNaN != cNaN {
		return false
	}
	if pv == nil || cv == nil {
		return prev.comparable == cur.comparable
	}
	return pv.Cmp(cv) == 0
}

func asBigFloat(v any) (*big.Float, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return big.NewFloat(1), false
		}
		return big.NewFloat(0), false
	case int32:
		return new(big.Float).SetInt64(int64(v)), false
	case int64:
		return new(big.Float).SetInt64(v), false
	case uint32:
		return new(big.Float).SetUint64(uint64(v)), false
	case uint64:
		return new(big.Float).SetUint64(v), false
	case float32:
		if math.IsNaN(float64(v)) {
			return nil, true
		}
		return big.NewFloat(float64(v)), false
	case float64:
		if math.IsNaN(v) {
			return nil, true
		}
		return big.NewFloat(v), false
	}
	return nil, false
}

func ruleFieldSameDefault(c *checker) error {
	return c.fieldPairs(func(cf, pf *field) error {
		if !canHaveDefault(pf.fd) || !canHaveDefault(cf.fd) {
			return nil
		}
		prev, cur := defaultOf(pf.fd), defaultOf(cf.fd)
		if prev.isZero() && cur.isZero() {
			return nil
		}
		if !defaultsEqual(prev, cur) {
			c.add(firstLoc(cf.file.at(appendPath(cf.path, 7)), cf.location()),
				firstLoc(pf.file.at(appendPath(pf.path, 7)), pf.location()),
				cf.file.path, `%s changed default value from %v to %v.`, fieldDescription(cf), prev.printable, cur.printable)
		}
		return nil
	})
}
