package breaking

import (
	"context"
	"fmt"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/protoutil"
	"github.com/bufbuild/protocompile/wellknownimports"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

func featureField(name protoreflect.Name) protoreflect.FieldDescriptor {
	return (*descriptorpb.FeatureSet)(nil).ProtoReflect().Descriptor().Fields().ByName(name)
}

func resolveJSONFormat(d protoreflect.Descriptor) (descriptorpb.FeatureSet_JsonFormat, error) {
	n, err := resolveStandardFeature(d, "json_format")
	return descriptorpb.FeatureSet_JsonFormat(n), err
}

func resolveUTF8Validation(d protoreflect.Descriptor) (descriptorpb.FeatureSet_Utf8Validation, error) {
	n, err := resolveStandardFeature(d, "utf8_validation")
	return descriptorpb.FeatureSet_Utf8Validation(n), err
}

// featureDefaults caches feature defaults per edition: computing one
// parses the defaults declared in descriptor.proto.
var featureDefaults sync.Map // featureKey -> protoreflect.EnumNumber

type featureKey struct {
	name    string
	edition descriptorpb.Edition
}

func fileEdition(fd protoreflect.FileDescriptor) descriptorpb.Edition {
	switch fd.Syntax() {
	case protoreflect.Proto3:
		return descriptorpb.Edition_EDITION_PROTO3
	case protoreflect.Editions:
		if e, ok := fd.(interface{ Edition() int32 }); ok {
			return descriptorpb.Edition(e.Edition())
		}
	}
	return descriptorpb.Edition_EDITION_PROTO2
}

// resolveStandardFeature resolves an enum feature of FeatureSet for d.
// Files without editions cannot override features, so their value is the
// edition's default.
func resolveStandardFeature(d protoreflect.Descriptor, name protoreflect.Name) (protoreflect.EnumNumber, error) {
	f := featureField(name)
	fd := d.ParentFile()
	if fd.Syntax() != protoreflect.Editions {
		key := featureKey{string(name), fileEdition(fd)}
		if v, ok := featureDefaults.Load(key); ok {
			return v.(protoreflect.EnumNumber), nil
		}
		v, err := protoutil.GetFeatureDefault(key.edition, f)
		if err != nil {
			return 0, fmt.Errorf("unable to resolve value of %s feature: %w", f.Name(), err)
		}
		featureDefaults.Store(key, v.Enum())
		return v.Enum(), nil
	}
	v, err := protoutil.ResolveFeature(d, f)
	if err != nil {
		return 0, fmt.Errorf("unable to resolve value of %s feature: %w", f.Name(), err)
	}
	return v.Enum(), nil
}

// langFeature is a language-specific feature such as (pb.cpp).string_type:
// a field of the message type of an extension of FeatureSet.
type langFeature struct {
	ext     protoreflect.ExtensionType
	extNum  int32
	field   protoreflect.FieldDescriptor
	fieldNo int32
}

var (
	langFeaturesOnce sync.Once
	cppStringType    *langFeature
	javaUTF8         *langFeature
	langFeaturesErr  error
)

// loadLangFeatures compiles the cpp and java feature definitions that ship
// with protocompile, so custom features resolve without generated code.
func loadLangFeatures() error {
	langFeaturesOnce.Do(func() {
		files, err := (&protocompile.Compiler{Resolver: wellknownimports.WithStandardImports(protocompile.ResolverFunc(func(string) (protocompile.SearchResult, error) {
			return protocompile.SearchResult{}, fmt.Errorf("not found")
		}))}).Compile(context.Background(), "google/protobuf/cpp_features.proto", "google/protobuf/java_features.proto")
		if err != nil {
			langFeaturesErr = fmt.Errorf("cannot load the cpp and java feature definitions: %w", err)
			return
		}
		get := func(fd protoreflect.FileDescriptor, ext protoreflect.Name, field protoreflect.Name) *langFeature {
			xd := fd.Extensions().ByName(ext)
			if xd == nil || xd.Message() == nil {
				return nil
			}
			f := xd.Message().Fields().ByName(field)
			if f == nil {
				return nil
			}
			return &langFeature{ext: dynamicpb.NewExtensionType(xd), extNum: int32(xd.Number()), field: f, fieldNo: int32(f.Number())}
		}
		cppStringType = get(files[0], "cpp", "string_type")
		javaUTF8 = get(files[1], "java", "utf8_validation")
		if cppStringType == nil || javaUTF8 == nil {
			langFeaturesErr = fmt.Errorf("cannot find (pb.cpp).string_type or (pb.java).utf8_validation")
		}
	})
	return langFeaturesErr
}

func (lf *langFeature) resolve(d protoreflect.Descriptor) (protoreflect.EnumNumber, error) {
	fd := d.ParentFile()
	edition := fileEdition(fd)
	key := featureKey{string(lf.field.FullName()), edition}
	var defNum protoreflect.EnumNumber
	if v, ok := featureDefaults.Load(key); ok {
		defNum = v.(protoreflect.EnumNumber)
	} else {
		def, err := protoutil.GetCustomFeatureDefault(edition, lf.ext, lf.field)
		if err != nil {
			return 0, err
		}
		defNum = def.Enum()
		featureDefaults.Store(key, defNum)
	}
	if fd.Syntax() != protoreflect.Editions {
		return defNum, nil
	}
	// Walk up the element's ancestors. The feature lives in an extension
	// of FeatureSet whose descriptor may be any compiler's, or unknown
	// bytes, so read it from the wire form of each features message.
	for e := d; e != nil; e = e.Parent() {
		opts := e.Options()
		if opts == nil {
			continue
		}
		m := opts.ProtoReflect()
		ff := m.Descriptor().Fields().ByName("features")
		if ff == nil || !m.Has(ff) {
			continue
		}
		data, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m.Get(ff).Message().Interface())
		if err != nil {
			return 0, fmt.Errorf("cannot encode features: %w", err)
		}
		if v, ok := findVarint(data, lf.extNum, lf.fieldNo); ok {
			return protoreflect.EnumNumber(v), nil
		}
	}
	return defNum, nil
}

// findVarint finds, in a FeatureSet's wire form, the last value of the
// varint field fieldNo inside the message field extNum.
func findVarint(data []byte, extNum, fieldNo int32) (int32, bool) {
	var val int32
	found := false
	for b := data; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0, false
		}
		if int32(num) == extNum && typ == protowire.BytesType {
			inner, _ := protowire.ConsumeBytes(b)
			for ib := inner; len(ib) > 0; {
				inum, ityp, k := protowire.ConsumeTag(ib)
				if k < 0 {
					break
				}
				ib = ib[k:]
				if int32(inum) == fieldNo && ityp == protowire.VarintType {
					v, j := protowire.ConsumeVarint(ib)
					if j < 0 {
						break
					}
					val, found = int32(v), true
					ib = ib[j:]
					continue
				}
				j := protowire.ConsumeFieldValue(inum, ityp, ib)
				if j < 0 {
					break
				}
				ib = ib[j:]
			}
		}
		b = b[m:]
	}
	return val, found
}

// C++ string types, as (pb.cpp).string_type numbers them.
const (
	cppStringTypeView   = 1
	cppStringTypeCord   = 2
	cppStringTypeString = 3
)

func cppStringTypeName(n protoreflect.EnumNumber, piece bool) string {
	if piece {
		return "STRING_PIECE"
	}
	switch n {
	case 0:
		return "STRING_TYPE_UNKNOWN"
	case cppStringTypeView:
		return "VIEW"
	case cppStringTypeCord:
		return "CORD"
	case cppStringTypeString:
		return "STRING"
	default:
		return fmt.Sprint(int32(n))
	}
}

func cppStringTypeOf(f *field) (protoreflect.EnumNumber, bool, error) {
	if f.file.pb.GetEdition() < descriptorpb.Edition_EDITION_2024 {
		if opts := f.pb.GetOptions(); opts != nil && opts.Ctype != nil {
			switch opts.GetCtype() {
			case descriptorpb.FieldOptions_CORD:
				return cppStringTypeCord, false, nil
			case descriptorpb.FieldOptions_STRING_PIECE:
				return cppStringTypeString, true, nil
			case descriptorpb.FieldOptions_STRING:
				return cppStringTypeString, false, nil
			default:
				if f.fd.ParentFile().Syntax() != protoreflect.Editions {
					return cppStringTypeString, false, nil
				}
			}
		}
	}
	n, err := cppStringType.resolve(f.fd)
	return n, false, err
}

func ruleFieldSameCppStringType(c *checker) error {
	if err := loadLangFeatures(); err != nil {
		return err
	}
	return c.fieldPairs(func(cf, pf *field) error {
		if pf.fd.ContainingMessage().IsMapEntry() && cf.fd.ContainingMessage().IsMapEntry() {
			return nil
		}
		isStr := func(k protoreflect.Kind) bool { return k == protoreflect.StringKind || k == protoreflect.BytesKind }
		if !isStr(pf.fd.Kind()) || !isStr(cf.fd.Kind()) {
			return nil
		}
		pt, pp, err := cppStringTypeOf(pf)
		if err != nil {
			return err
		}
		ct, cp, err := cppStringTypeOf(cf)
		if err != nil {
			return err
		}
		if (pt != ct || pp != cp) && !(pp && ct == cppStringTypeString) {
			loc := func(f *field) *loc {
				return firstLoc(
					f.file.at(appendPath(f.path, 8, 1)),
					f.file.optionAt(f.optionsPath(), 21, cppStringType.extNum, cppStringType.fieldNo),
					f.location())
			}
			c.add(loc(cf), loc(pf), cf.file.path, `%s changed C++ string type from %q to %q.`,
				fieldDescription(cf), cppStringTypeName(pt, pp), cppStringTypeName(ct, cp))
		}
		return nil
	})
}

// javaUTF8Validation resolves whether Java checks the UTF-8 of a string
// field: the file option java_string_check_utf8 or, in editions files, the
// (pb.java).utf8_validation feature, else the standard feature.
func javaUTF8Validation(f *field) (descriptorpb.FeatureSet_Utf8Validation, error) {
	def, err := resolveUTF8Validation(f.fd)
	if err != nil {
		return 0, err
	}
	opts := f.file.pb.GetOptions()
	if f.fd.ParentFile().Syntax() != protoreflect.Editions || (opts != nil && opts.JavaStringCheckUtf8 != nil) {
		if opts.GetJavaStringCheckUtf8() {
			return descriptorpb.FeatureSet_VERIFY, nil
		}
		return def, nil
	}
	n, err := javaUTF8.resolve(f.fd)
	if err != nil {
		return 0, err
	}
	const javaVerify = 2
	if n == javaVerify {
		return descriptorpb.FeatureSet_VERIFY, nil
	}
	return def, nil
}

func ruleFieldSameJavaUTF8Validation(c *checker) error {
	if err := loadLangFeatures(); err != nil {
		return err
	}
	return c.fieldPairs(func(cf, pf *field) error {
		if pf.fd.Kind() != protoreflect.StringKind || cf.fd.Kind() != protoreflect.StringKind {
			return nil
		}
		prev, err := javaUTF8Validation(pf)
		if err != nil {
			return err
		}
		cur, err := javaUTF8Validation(cf)
		if err != nil {
			return err
		}
		if prev != cur {
			loc := func(f *field) *loc {
				return firstLoc(
					f.file.at([]int32{8, 27}),
					f.file.optionAt(f.optionsPath(), 21, javaUTF8.extNum, javaUTF8.fieldNo),
					f.location())
			}
			c.add(loc(cf), loc(pf), cf.file.path, `%s changed Java string UTF8 validation from %q to %q.`,
				fieldDescription(cf), prev.String(), cur.String())
		}
		return nil
	})
}
