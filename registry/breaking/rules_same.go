package breaking

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

func init() {
	for id, fn := range map[string]func(*checker) error{
		"ENUM_SAME_TYPE":                                 ruleEnumSameType,
		"ENUM_SAME_JSON_FORMAT":                          ruleEnumSameJSONFormat,
		"ENUM_VALUE_SAME_NAME":                           ruleEnumValueSameName,
		"FIELD_SAME_CARDINALITY":                         fieldCardinality(nil),
		"FIELD_WIRE_COMPATIBLE_CARDINALITY":              fieldCardinality(wireCardinalityGroup),
		"FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY":         fieldCardinality(wireJSONCardinalityGroup),
		"FIELD_SAME_CPP_STRING_TYPE":                     ruleFieldSameCppStringType,
		"FIELD_SAME_JAVA_UTF8_VALIDATION":                ruleFieldSameJavaUTF8Validation,
		"FIELD_SAME_JSTYPE":                              ruleFieldSameJSType,
		"FIELD_SAME_TYPE":                                ruleFieldSameType,
		"FIELD_WIRE_COMPATIBLE_TYPE":                     ruleFieldWireCompatibleType,
		"FIELD_WIRE_JSON_COMPATIBLE_TYPE":                ruleFieldWireJSONCompatibleType,
		"FIELD_SAME_UTF8_VALIDATION":                     ruleFieldSameUTF8Validation,
		"FIELD_SAME_JSON_NAME":                           ruleFieldSameJSONName,
		"FIELD_SAME_NAME":                                ruleFieldSameName,
		"FIELD_SAME_DEFAULT":                             ruleFieldSameDefault,
		"FIELD_SAME_ONEOF":                               ruleFieldSameOneof,
		"MESSAGE_SAME_JSON_FORMAT":                       ruleMessageSameJSONFormat,
		"MESSAGE_SAME_REQUIRED_FIELDS":                   ruleMessageSameRequiredFields,
		"MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR": ruleMessageNoRemoveStandardDescriptorAccessor,
		"RPC_SAME_CLIENT_STREAMING":                      ruleRPCSameClientStreaming,
		"RPC_SAME_SERVER_STREAMING":                      ruleRPCSameServerStreaming,
		"RPC_SAME_IDEMPOTENCY_LEVEL":                     ruleRPCSameIdempotencyLevel,
		"RPC_SAME_REQUEST_TYPE":                          ruleRPCSameRequestType,
		"RPC_SAME_RESPONSE_TYPE":                         ruleRPCSameResponseType,
		"FILE_SAME_PACKAGE":                              ruleFileSamePackage,
		"FILE_SAME_SYNTAX":                               ruleFileSameSyntax,
	} {
		ruleFuncs[id] = fn
	}
	fileOption := func(name string, field int32, get func(*descriptorpb.FileOptions) string) func(*checker) error {
		return func(c *checker) error {
			return c.filePairs(func(cf, pf *file) error {
				c.fileSame(cf, pf, get(pf.pb.GetOptions()), get(cf.pb.GetOptions()), []int32{8, field}, `option "`+name+`"`)
				return nil
			})
		}
	}
	b := strconv.FormatBool
	for id, fn := range map[string]func(*checker) error{
		"FILE_SAME_CC_ENABLE_ARENAS":       fileOption("cc_enable_arenas", 31, func(o *descriptorpb.FileOptions) string { return b(o.GetCcEnableArenas()) }),
		"FILE_SAME_CC_GENERIC_SERVICES":    fileOption("cc_generic_services", 16, func(o *descriptorpb.FileOptions) string { return b(o.GetCcGenericServices()) }),
		"FILE_SAME_CSHARP_NAMESPACE":       fileOption("csharp_namespace", 37, (*descriptorpb.FileOptions).GetCsharpNamespace),
		"FILE_SAME_GO_PACKAGE":             fileOption("go_package", 11, (*descriptorpb.FileOptions).GetGoPackage),
		"FILE_SAME_JAVA_GENERIC_SERVICES":  fileOption("java_generic_services", 17, func(o *descriptorpb.FileOptions) string { return b(o.GetJavaGenericServices()) }),
		"FILE_SAME_JAVA_MULTIPLE_FILES":    fileOption("java_multiple_files", 10, func(o *descriptorpb.FileOptions) string { return b(o.GetJavaMultipleFiles()) }),
		"FILE_SAME_JAVA_OUTER_CLASSNAME":   fileOption("java_outer_classname", 8, (*descriptorpb.FileOptions).GetJavaOuterClassname),
		"FILE_SAME_JAVA_PACKAGE":           fileOption("java_package", 1, (*descriptorpb.FileOptions).GetJavaPackage),
		"FILE_SAME_OBJC_CLASS_PREFIX":      fileOption("objc_class_prefix", 36, (*descriptorpb.FileOptions).GetObjcClassPrefix),
		"FILE_SAME_OPTIMIZE_FOR":           fileOption("optimize_for", 9, func(o *descriptorpb.FileOptions) string { return o.GetOptimizeFor().String() }),
		"FILE_SAME_PHP_CLASS_PREFIX":       fileOption("php_class_prefix", 40, (*descriptorpb.FileOptions).GetPhpClassPrefix),
		"FILE_SAME_PHP_METADATA_NAMESPACE": fileOption("php_metadata_namespace", 44, (*descriptorpb.FileOptions).GetPhpMetadataNamespace),
		"FILE_SAME_PHP_NAMESPACE":          fileOption("php_namespace", 41, (*descriptorpb.FileOptions).GetPhpNamespace),
		"FILE_SAME_PY_GENERIC_SERVICES":    fileOption("py_generic_services", 18, func(o *descriptorpb.FileOptions) string { return b(o.GetPyGenericServices()) }),
		"FILE_SAME_RUBY_PACKAGE":           fileOption("ruby_package", 45, (*descriptorpb.FileOptions).GetRubyPackage),
		"FILE_SAME_SWIFT_PREFIX":           fileOption("swift_prefix", 39, (*descriptorpb.FileOptions).GetSwiftPrefix),
	} {
		ruleFuncs[id] = fn
	}
}

func (c *checker) fileSame(cf, pf *file, prev, cur string, p []int32, name string) {
	if prev == cur {
		return
	}
	c.add(cf.at(p), pf.at(p), cf.path, `File %s changed from %q to %q.`, name, prev, cur)
}

func ruleFileSamePackage(c *checker) error {
	return c.filePairs(func(cf, pf *file) error {
		c.fileSame(cf, pf, pf.pkg, cf.pkg, []int32{2}, "package")
		return nil
	})
}

func syntaxName(f *file) string {
	switch f.pb.GetSyntax() {
	case "proto3":
		return "proto3"
	case "editions":
		return "editions"
	default:
		return "proto2"
	}
}

func ruleFileSameSyntax(c *checker) error {
	return c.filePairs(func(cf, pf *file) error {
		prev, cur := syntaxName(pf), syntaxName(cf)
		if prev != cur {
			c.add(cf.syntaxLocation(), pf.syntaxLocation(), cf.path, `File syntax changed from %q to %q.`, prev, cur)
		}
		return nil
	})
}

// Feature locations: features are field 50 of FileOptions, 12 of
// MessageOptions, 21 of FieldOptions, 7 of EnumOptions; inside them
// field_presence is 1, enum_type 2, utf8_validation 4, json_format 6.

func ruleEnumSameType(c *checker) error {
	return c.enumPairs(func(ce, pe *enum) error {
		if pe.ed.IsClosed() == ce.ed.IsClosed() {
			return nil
		}
		prevState, curState := "closed", "open"
		if ce.ed.IsClosed() {
			prevState, curState = curState, prevState
		}
		c.add(firstLoc(ce.file.optionAt(appendPath(ce.path, 3), 7, 2), ce.location()),
			firstLoc(pe.file.optionAt(appendPath(pe.path, 3), 7, 2), pe.location()),
			ce.file.path, `Enum %q changed from %s to %s.`, ce.name, prevState, curState)
		return nil
	})
}

func ruleEnumSameJSONFormat(c *checker) error {
	return c.enumPairs(func(ce, pe *enum) error {
		prev, err := resolveJSONFormat(pe.ed)
		if err != nil {
			return err
		}
		cur, err := resolveJSONFormat(ce.ed)
		if err != nil {
			return err
		}
		if prev == descriptorpb.FeatureSet_ALLOW && cur != descriptorpb.FeatureSet_ALLOW {
			c.add(firstLoc(ce.file.optionAt(appendPath(ce.path, 3), 7, 6), ce.location()),
				firstLoc(pe.file.optionAt(appendPath(pe.path, 3), 7, 6), pe.location()),
				ce.file.path, `Enum %q JSON format support changed from %v to %v.`, ce.name, prev, cur)
		}
		return nil
	})
}

func ruleMessageSameJSONFormat(c *checker) error {
	return c.messagePairs(func(cm, pm *message) error {
		prev, err := resolveJSONFormat(pm.md)
		if err != nil {
			return err
		}
		cur, err := resolveJSONFormat(cm.md)
		if err != nil {
			return err
		}
		if prev == descriptorpb.FeatureSet_ALLOW && cur != descriptorpb.FeatureSet_ALLOW {
			c.add(firstLoc(cm.file.optionAt(appendPath(cm.path, 7), 12, 6), cm.location()),
				firstLoc(pm.file.optionAt(appendPath(pm.path, 7), 12, 6), pm.location()),
				cm.file.path, `Message %q JSON format support changed from %v to %v.`, cm.name, prev, cur)
		}
		return nil
	})
}

func ruleEnumValueSameName(c *checker) error {
	return c.enumPairs(func(ce, pe *enum) error {
		cur, prev, err := valuesByNumberPair(ce, pe)
		if err != nil {
			return err
		}
		for _, n := range sortedNumbers(prev) {
			curByName, ok := cur[n]
			if !ok {
				continue
			}
			prevNames, curNames := sortedKeys(prev[n]), sortedKeys(curByName)
			contained := true
			for _, name := range prevNames {
				if !slices.Contains(curNames, name) {
					contained = false
					break
				}
			}
			if contained {
				continue
			}
			suffix := ""
			if len(prevNames) > 1 && len(curNames) > 1 {
				suffix = "s"
			}
			for _, name := range curNames {
				v := curByName[name]
				var al *loc
				if pv, ok := prev[n][name]; ok {
					al = pv.numberLoc()
				}
				c.add(v.numberLoc(), al, v.enum.file.path, `Enum value "%d" on enum %q changed name%s from %s to %s.`,
					n, ce.name, suffix, joinQuoted(prevNames), joinQuoted(curNames))
			}
		}
		return nil
	})
}

type cardinality int

const (
	cardinalityExplicit cardinality = iota + 1
	cardinalityImplicit
	cardinalityRequired
	cardinalityRepeated
	cardinalityMap
)

func (c cardinality) String() string {
	switch c {
	case cardinalityExplicit:
		return "optional with explicit presence"
	case cardinalityImplicit:
		return "optional with implicit presence"
	case cardinalityRequired:
		return "required"
	case cardinalityRepeated:
		return "repeated"
	case cardinalityMap:
		return "map"
	default:
		return strconv.Itoa(int(c))
	}
}

func cardinalityOf(fd protoreflect.FieldDescriptor) cardinality {
	switch {
	case fd.IsList():
		return cardinalityRepeated
	case fd.IsMap():
		return cardinalityMap
	case fd.Cardinality() == protoreflect.Required:
		return cardinalityRequired
	case fd.HasPresence():
		return cardinalityExplicit
	default:
		return cardinalityImplicit
	}
}

var (
	wireCardinalityGroup = map[cardinality]int{
		cardinalityExplicit: 1, cardinalityImplicit: 1, cardinalityRequired: 2, cardinalityRepeated: 3, cardinalityMap: 3,
	}
	wireJSONCardinalityGroup = map[cardinality]int{
		cardinalityExplicit: 1, cardinalityImplicit: 1, cardinalityRequired: 2, cardinalityRepeated: 3, cardinalityMap: 4,
	}
)

func fieldCardinality(groups map[cardinality]int) func(*checker) error {
	return func(c *checker) error {
		return c.fieldPairs(func(cf, pf *field) error {
			if pf.fd.ContainingMessage().IsMapEntry() && cf.fd.ContainingMessage().IsMapEntry() {
				return nil
			}
			prev, cur := cardinalityOf(pf.fd), cardinalityOf(cf.fd)
			same := prev == cur
			if groups != nil {
				same = groups[prev] == groups[cur]
			}
			if !same {
				c.add(cf.location(), pf.location(), cf.file.path, `%s changed cardinality from %q to %q.`,
					fieldDescription(cf), prev.String(), cur.String())
			}
			return nil
		})
	}
}

func ruleFieldSameJSType(c *checker) error {
	return c.fieldPairs(func(cf, pf *field) error {
		if !is64BitInteger(pf.pb.GetType()) || !is64BitInteger(cf.pb.GetType()) {
			return nil
		}
		prev, cur := pf.pb.GetOptions().GetJstype(), cf.pb.GetOptions().GetJstype()
		if prev != cur {
			c.add(firstLoc(cf.file.at(appendPath(cf.path, 8, 6)), cf.location()),
				firstLoc(pf.file.at(appendPath(pf.path, 8, 6)), pf.location()),
				cf.file.path, `%s changed option "jstype" from %q to %q.`, fieldDescription(cf), prev.String(), cur.String())
		}
		return nil
	})
}

func is64BitInteger(t descriptorpb.FieldDescriptorProto_Type) bool {
	switch t {
	case descriptorpb.FieldDescriptorProto_TYPE_INT64, descriptorpb.FieldDescriptorProto_TYPE_SINT64,
		descriptorpb.FieldDescriptorProto_TYPE_UINT64, descriptorpb.FieldDescriptorProto_TYPE_FIXED64,
		descriptorpb.FieldDescriptorProto_TYPE_SFIXED64:
		return true
	}
	return false
}

// kindName prints a field kind as buf does, telling delimited messages in
// editions files from proto2 groups.
func kindName(fd protoreflect.FieldDescriptor) string {
	if fd.Kind() == protoreflect.GroupKind && fd.ParentFile().Syntax() != protoreflect.Proto2 {
		return "message (delimited encoding)"
	}
	return fd.Kind().String()
}

func isNamedKind(k protoreflect.Kind) bool {
	return k == protoreflect.MessageKind || k == protoreflect.EnumKind || k == protoreflect.GroupKind
}

func (c *checker) fieldChangedType(cf, pf *field, extra ...string) {
	l := cf.typeLocation()
	if isNamedKind(cf.fd.Kind()) {
		l = cf.typeNameLocation()
	}
	al := pf.typeLocation()
	if isNamedKind(pf.fd.Kind()) {
		al = pf.typeNameLocation()
	}
	suffix := ""
	if joined := strings.TrimSpace(strings.Join(extra, " ")); joined != "" {
		suffix = " " + joined
	}
	c.add(l, al, cf.file.path, `%s changed type from %q to %q.%s`, fieldDescription(cf), kindName(pf.fd), kindName(cf.fd), suffix)
}

func (c *checker) fieldChangedTypeName(cf, pf *field) {
	c.add(cf.typeNameLocation(), pf.typeNameLocation(), cf.file.path, `%s changed type from %q to %q.`,
		fieldDescription(cf), pf.typeName, cf.typeName)
}

func ruleFieldSameType(c *checker) error {
	return c.fieldPairs(func(cf, pf *field) error {
		if pf.fd.Kind() != cf.fd.Kind() {
			c.fieldChangedType(cf, pf)
			return nil
		}
		switch cf.pb.GetType() {
		case descriptorpb.FieldDescriptorProto_TYPE_ENUM, descriptorpb.FieldDescriptorProto_TYPE_GROUP,
			descriptorpb.FieldDescriptorProto_TYPE_MESSAGE:
			if pf.typeName != cf.typeName {
				c.fieldChangedTypeName(cf, pf)
			}
		}
		return nil
	})
}

var wireGroups = map[protoreflect.Kind]int{
	protoreflect.Int32Kind: 1, protoreflect.Int64Kind: 1, protoreflect.Uint32Kind: 1, protoreflect.Uint64Kind: 1, protoreflect.BoolKind: 1,
	protoreflect.Sint32Kind: 2, protoreflect.Sint64Kind: 2,
	protoreflect.StringKind: 3, protoreflect.BytesKind: 4,
	protoreflect.Fixed32Kind: 5, protoreflect.Sfixed32Kind: 5,
	protoreflect.Fixed64Kind: 6, protoreflect.Sfixed64Kind: 6,
	protoreflect.DoubleKind: 7, protoreflect.FloatKind: 8,
	protoreflect.GroupKind: 9, protoreflect.MessageKind: 10, protoreflect.EnumKind: 11,
}

var wireJSONGroups = map[protoreflect.Kind]int{
	protoreflect.Int32Kind: 1, protoreflect.Uint32Kind: 1,
	protoreflect.Int64Kind: 2, protoreflect.Uint64Kind: 2,
	protoreflect.Fixed32Kind: 3, protoreflect.Sfixed32Kind: 3,
	protoreflect.Fixed64Kind: 4, protoreflect.Sfixed64Kind: 4,
	protoreflect.BoolKind: 5, protoreflect.Sint32Kind: 6, protoreflect.Sint64Kind: 7,
	protoreflect.StringKind: 8, protoreflect.BytesKind: 9,
	protoreflect.DoubleKind: 10, protoreflect.FloatKind: 11,
	protoreflect.GroupKind: 12, protoreflect.MessageKind: 13, protoreflect.EnumKind: 14,
}

const (
	wireRulesNote     = "See https://developers.google.com/protocol-buffers/docs/proto3#updating for wire compatibility rules."
	wireJSONRulesNote = "See https://developers.google.com/protocol-buffers/docs/proto3#updating for wire compatibility rules and https://developers.google.com/protocol-buffers/docs/proto3#json for JSON compatibility rules."
	bytesToStringNote = "Note that while string and bytes are compatible if the data is valid UTF-8, there is no way to enforce that a bytes field is UTF-8, so these fields may be incompatible."
)

func ruleFieldWireCompatibleType(c *checker) error {
	return c.fieldPairs(func(cf, pf *field) error {
		pg, ok := wireGroups[pf.fd.Kind()]
		if !ok {
			return fmt.Errorf("unknown FieldDescriptorProtoType: %v", pf.fd.Kind())
		}
		cg, ok := wireGroups[cf.fd.Kind()]
		if !ok {
			return fmt.Errorf("unknown FieldDescriptorProtoType: %v", cf.fd.Kind())
		}
		if pg != cg {
			extra := []string{wireRulesNote}
			switch {
			case pf.fd.Kind() == protoreflect.StringKind && cf.fd.Kind() == protoreflect.BytesKind:
				return nil
			case pf.fd.Kind() == protoreflect.BytesKind && cf.fd.Kind() == protoreflect.StringKind:
				extra = append(extra, bytesToStringNote)
			}
			c.fieldChangedType(cf, pf, extra...)
			return nil
		}
		switch cf.pb.GetType() {
		case descriptorpb.FieldDescriptorProto_TYPE_ENUM:
			if pf.typeName != cf.typeName {
				return c.checkEnumWireCompatible(cf, pf)
			}
		case descriptorpb.FieldDescriptorProto_TYPE_GROUP, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE:
			if pf.typeName != cf.typeName {
				c.fieldChangedTypeName(cf, pf)
			}
		}
		return nil
	})
}

func ruleFieldWireJSONCompatibleType(c *checker) error {
	return c.fieldPairs(func(cf, pf *field) error {
		pg, ok := wireJSONGroups[pf.fd.Kind()]
		if !ok {
			return fmt.Errorf("unknown FieldDescriptorProtoType: %v", pf.fd.Kind())
		}
		cg, ok := wireJSONGroups[cf.fd.Kind()]
		if !ok {
			return fmt.Errorf("unknown FieldDescriptorProtoType: %v", cf.fd.Kind())
		}
		if pg != cg {
			c.fieldChangedType(cf, pf, wireJSONRulesNote)
			return nil
		}
		switch cf.fd.Kind() {
		case protoreflect.EnumKind:
			if pf.typeName != cf.typeName {
				return c.checkEnumWireCompatible(cf, pf)
			}
		case protoreflect.GroupKind, protoreflect.MessageKind:
			if pf.typeName != cf.typeName {
				c.fieldChangedTypeName(cf, pf)
			}
		}
		return nil
	})
}

// checkEnumWireCompatible accepts an enum field whose enum was renamed or
// moved when the short name is the same and the new enum has every
// previous value with the same number.
func (c *checker) checkEnumWireCompatible(cf, pf *field) error {
	pix, err := c.prev.index()
	if err != nil {
		return err
	}
	cix, err := c.cur.index()
	if err != nil {
		return err
	}
	pe, ok := pix.enums[pf.typeName]
	if !ok {
		return fmt.Errorf("expected enum %q to exist but was not found", pf.typeName)
	}
	ce, ok := cix.enums[cf.typeName]
	if !ok {
		return fmt.Errorf("expected enum %q to exist but was not found", cf.typeName)
	}
	if pe.name != ce.name {
		c.fieldChangedTypeName(cf, pf)
		return nil
	}
	curByName := map[string]int32{}
	for _, v := range ce.values {
		if _, dup := curByName[v.name]; dup {
			return fmt.Errorf("duplicate enum value name for enum %q: %q", ce.nested, v.name)
		}
		curByName[v.name] = v.number
	}
	seen := map[string]bool{}
	for _, v := range pe.values {
		if seen[v.name] {
			return fmt.Errorf("duplicate enum value name for enum %q: %q", pe.nested, v.name)
		}
		seen[v.name] = true
		if n, ok := curByName[v.name]; !ok || n != v.number {
			c.fieldChangedTypeName(cf, pf)
			return nil
		}
	}
	return nil
}

func ruleFieldSameUTF8Validation(c *checker) error {
	return c.fieldPairs(func(cf, pf *field) error {
		if pf.fd.Kind() != protoreflect.StringKind || cf.fd.Kind() != protoreflect.StringKind {
			return nil
		}
		prev, err := resolveUTF8Validation(pf.fd)
		if err != nil {
			return err
		}
		cur, err := resolveUTF8Validation(cf.fd)
		if err != nil {
			return err
		}
		if prev != cur {
			c.add(firstLoc(cf.file.optionAt(cf.optionsPath(), 21, 4), cf.location()),
				firstLoc(pf.file.optionAt(pf.optionsPath(), 21, 4), pf.location()),
				cf.file.path, `%s changed UTF8 validation from %v to %v.`, fieldDescription(cf), prev, cur)
		}
		return nil
	})
}

func ruleFieldSameJSONName(c *checker) error {
	return c.fieldPairs(func(cf, pf *field) error {
		if pf.extendee != "" {
			return nil
		}
		prev, cur := pf.pb.GetJsonName(), cf.pb.GetJsonName()
		if prev != cur {
			c.add(firstLoc(cf.file.at(appendPath(cf.path, 10)), cf.location()),
				firstLoc(pf.file.at(appendPath(pf.path, 10)), pf.location()),
				cf.file.path, `%s changed option "json_name" from %q to %q.`, fieldDescription(cf), prev, cur)
		}
		return nil
	})
}

func ruleFieldSameName(c *checker) error {
	return c.fieldPairs(func(cf, pf *field) error {
		prev, cur := pf.name, cf.name
		if pf.extendee != "" {
			prev, cur = pf.full, cf.full
		}
		if prev != cur {
			c.add(cf.nameLocation(), pf.nameLocation(), cf.file.path, `%s changed name from %q to %q.`,
				fieldDescriptionWithName(cf, ""), prev, cur)
		}
		return nil
	})
}

func ruleFieldSameOneof(c *checker) error {
	return c.fieldPairs(func(cf, pf *field) error {
		if pf.extendee != "" {
			return nil
		}
		po, co := pf.oneof, cf.oneof
		if po != nil && po.od.IsSynthetic() {
			po = nil
		}
		if co != nil && co.od.IsSynthetic() {
			co = nil
		}
		switch {
		case po == nil && co == nil:
			return nil
		case po != nil && co != nil:
			if po.name != co.name {
				c.add(cf.location(), pf.location(), cf.file.path, `%sq moved from oneof %q to oneof %q.`,
					fieldDescription(cf), po.name, co.name)
			}
			return nil
		}
		prev, cur := "inside", "outside"
		if co != nil {
			prev, cur = "outside", "inside"
		}
		c.add(cf.location(), pf.location(), cf.file.path, `%s moved from %s to %s a oneof.`, fieldDescription(cf), prev, cur)
		return nil
	})
}

func ruleMessageSameRequiredFields(c *checker) error {
	return c.messagePairs(func(cm, pm *message) error {
		required := func(m *message) (map[int32]*field, error) {
			all, err := fieldsByNumber(m)
			if err != nil {
				return nil, err
			}
			for n, f := range all {
				if f.pb.GetLabel() != descriptorpb.FieldDescriptorProto_LABEL_REQUIRED {
					delete(all, n)
				}
			}
			return all, nil
		}
		prev, err := required(pm)
		if err != nil {
			return err
		}
		cur, err := required(cm)
		if err != nil {
			return err
		}
		for _, n := range sortedNumbers(prev) {
			if _, ok := cur[n]; !ok {
				c.add(cm.location(), pm.location(), cm.file.path,
					`Message %q had required field "%d" deleted. Required fields must always be sent, so if one side does not know about the required field, this will result in a breakage.`,
					pm.name, n)
			}
		}
		for _, n := range sortedNumbers(cur) {
			if _, ok := prev[n]; !ok {
				f := cur[n]
				c.add(f.location(), nil, f.file.path,
					`Message %q had required field "%d" added. Required fields must always be sent, so if one side does not know about the required field, this will result in a breakage.`,
					cm.name, n)
			}
		}
		return nil
	})
}

func ruleMessageNoRemoveStandardDescriptorAccessor(c *checker) error {
	return c.messagePairs(func(cm, pm *message) error {
		prev := strconv.FormatBool(pm.pb.GetOptions().GetNoStandardDescriptorAccessor())
		cur := strconv.FormatBool(cm.pb.GetOptions().GetNoStandardDescriptorAccessor())
		if prev == "false" && cur == "true" {
			c.add(cm.file.at(appendPath(cm.path, 7, 2)), pm.file.at(appendPath(pm.path, 7, 2)), cm.file.path,
				`Message option "no_standard_descriptor_accessor" changed from %q to %q.`, prev, cur)
		}
		return nil
	})
}

func ruleRPCSameClientStreaming(c *checker) error {
	return c.methodPairs(func(cm, pm *method) error {
		if pm.pb.GetClientStreaming() == cm.pb.GetClientStreaming() {
			return nil
		}
		prev, cur := "streaming", "unary"
		if cm.pb.GetClientStreaming() {
			prev, cur = "unary", "streaming"
		}
		c.add(cm.location(), pm.location(), cm.service.file.path, `RPC %q on service %q changed from client %s to client %s.`,
			cm.name, cm.service.name, prev, cur)
		return nil
	})
}

func ruleRPCSameServerStreaming(c *checker) error {
	return c.methodPairs(func(cm, pm *method) error {
		if pm.pb.GetServerStreaming() == cm.pb.GetServerStreaming() {
			return nil
		}
		prev, cur := "streaming", "unary"
		if cm.pb.GetServerStreaming() {
			prev, cur = "unary", "streaming"
		}
		c.add(cm.location(), pm.location(), cm.service.file.path, `RPC %q on service %q changed from server %s to server %s.`,
			cm.name, cm.service.name, prev, cur)
		return nil
	})
}

func ruleRPCSameIdempotencyLevel(c *checker) error {
	return c.methodPairs(func(cm, pm *method) error {
		prev, cur := pm.pb.GetOptions().GetIdempotencyLevel(), cm.pb.GetOptions().GetIdempotencyLevel()
		if prev != cur {
			f, pf := cm.service.file, pm.service.file
			c.add(f.at(appendPath(cm.path, 4, 34)), pf.at(appendPath(pm.path, 4, 34)), f.path,
				`RPC %q on service %q changed option "idempotency_level" from %q to %q.`,
				cm.name, cm.service.name, prev.String(), cur.String())
		}
		return nil
	})
}

func ruleRPCSameRequestType(c *checker) error {
	return c.methodPairs(func(cm, pm *method) error {
		if pm.input != cm.input {
			f, pf := cm.service.file, pm.service.file
			c.add(f.at(appendPath(cm.path, 2)), pf.at(appendPath(pm.path, 2)), f.path,
				`RPC %q on service %q changed request type from %q to %q.`, cm.name, cm.service.name, pm.input, cm.input)
		}
		return nil
	})
}

func ruleRPCSameResponseType(c *checker) error {
	return c.methodPairs(func(cm, pm *method) error {
		if pm.output != cm.output {
			f, pf := cm.service.file, pm.service.file
			c.add(f.at(appendPath(cm.path, 3)), pf.at(appendPath(pm.path, 3)), f.path,
				`RPC %q on service %q changed response type from %q to %q.`, cm.name, cm.service.name, pm.output, cm.output)
		}
		return nil
	})
}
