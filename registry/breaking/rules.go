package breaking

import (
	"slices"
	"sort"
)

// Category IDs. FILE, PACKAGE, WIRE_JSON, WIRE and CSR are buf's; NATSRPC
// is natsrpc's own and never part of buf's categories.
const (
	CategoryFile     = "FILE"
	CategoryPackage  = "PACKAGE"
	CategoryWireJSON = "WIRE_JSON"
	CategoryWire     = "WIRE"
	CategoryCSR      = "CSR"
	CategoryNATSRPC  = "NATSRPC"
)

// Version is a buf.yaml version. It selects the rule set: buf changed rule
// membership and defaults between versions, and natsrpc follows it.
type Version string

// The buf.yaml versions.
const (
	VersionV1Beta1 Version = "v1beta1"
	VersionV1      Version = "v1"
	VersionV2      Version = "v2"
)

// Rule describes one rule for one configuration version.
type Rule struct {
	// ID is the rule ID, e.g. "FIELD_NO_DELETE".
	ID string
	// Purpose is a one-sentence description.
	Purpose string
	// Categories are the categories the rule belongs to in this version.
	Categories []string
	// Default is true when the rule runs if no rules are configured.
	Default bool
	// Deprecated rules run nothing themselves; configuring one selects its
	// replacements.
	Deprecated bool
	// ReplacementIDs are the rules a deprecated rule stands for.
	ReplacementIDs []string
}

type ruleVersion struct {
	Default    bool
	Categories []string
}

type ruleSpec struct {
	ID             string
	Purpose        string
	Deprecated     bool
	ReplacementIDs []string
	v1beta1        *ruleVersion
	v1             *ruleVersion
	v2             *ruleVersion
}

// ruleSpecs is buf v1.75.0's breaking rule table: IDs, purposes, category
// membership, defaults and deprecations per buf.yaml version.
var ruleSpecs = []ruleSpec{
	{
		ID:             "ENUM_NO_DELETE",
		Purpose:        "Checks that enums are not deleted from a given file.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE"}},
	},
	{
		ID:             "ENUM_SAME_JSON_FORMAT",
		Purpose:        "Checks that enums have the same JSON format support.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON"}},
	},
	{
		ID:             "ENUM_SAME_TYPE",
		Purpose:        "Checks that enums have the same type (open vs closed).",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "ENUM_VALUE_NO_DELETE",
		Purpose:        "Checks that enum values are not deleted from a given enum.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE"}},
	},
	{
		ID:             "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
		Purpose:        "Checks that enum values are not deleted from a given enum unless the name is reserved.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: false, Categories: []string{"WIRE_JSON"}},
		v1:             &ruleVersion{Default: false, Categories: []string{"WIRE_JSON"}},
		v2:             &ruleVersion{Default: false, Categories: []string{"CSR", "WIRE_JSON"}},
	},
	{
		ID:             "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
		Purpose:        "Checks that enum values are not deleted from a given enum unless the number is reserved.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: false, Categories: []string{"WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: false, Categories: []string{"WIRE_JSON", "WIRE"}},
		v2:             &ruleVersion{Default: false, Categories: []string{"CSR", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "ENUM_VALUE_SAME_NAME",
		Purpose:        "Checks that enum values have the same name.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON"}},
	},
	{
		ID:             "EXTENSION_MESSAGE_NO_DELETE",
		Purpose:        "Checks that extension ranges are not deleted from a given message.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE"}},
	},
	{
		ID:             "EXTENSION_NO_DELETE",
		Purpose:        "Checks that extensions are not deleted from a given file.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        nil,
		v1:             nil,
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE"}},
	},
	{
		ID:             "FIELD_NO_DELETE",
		Purpose:        "Checks that fields are not deleted from a given message.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE"}},
	},
	{
		ID:             "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
		Purpose:        "Checks that fields are not deleted from a given message unless the name is reserved.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: false, Categories: []string{"WIRE_JSON"}},
		v1:             &ruleVersion{Default: false, Categories: []string{"WIRE_JSON"}},
		v2:             &ruleVersion{Default: false, Categories: []string{"CSR", "WIRE_JSON"}},
	},
	{
		ID:             "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
		Purpose:        "Checks that fields are not deleted from a given message unless the number is reserved.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: false, Categories: []string{"WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: false, Categories: []string{"WIRE_JSON", "WIRE"}},
		v2:             &ruleVersion{Default: false, Categories: []string{"CSR", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "FIELD_SAME_CARDINALITY",
		Purpose:        "Checks that fields have the same cardinalities in a given message.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FIELD_SAME_CPP_STRING_TYPE",
		Purpose:        "Checks that fields have the same C++ string type, based on ctype field option or (pb.cpp).string_type feature.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FIELD_SAME_CTYPE",
		Purpose:        "Checks that fields have the same value for the ctype option.",
		Deprecated:     true,
		ReplacementIDs: []string{"FIELD_SAME_CPP_STRING_TYPE"},
		v1beta1:        &ruleVersion{Default: false, Categories: nil},
		v1:             &ruleVersion{Default: false, Categories: nil},
		v2:             nil,
	},
	{
		ID:             "FIELD_SAME_DEFAULT",
		Purpose:        "Checks that fields have the same default value, if a default is specified.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        nil,
		v1:             nil,
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "FIELD_SAME_JAVA_UTF8_VALIDATION",
		Purpose:        "Checks that fields have the same Java string UTF8 validation, based on java_string_check_utf8 file option or (pb.java).utf8_validation feature.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FIELD_SAME_JSON_NAME",
		Purpose:        "Checks that fields have the same value for the json_name option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON"}},
	},
	{
		ID:             "FIELD_SAME_JSTYPE",
		Purpose:        "Checks that fields have the same value for the jstype option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FIELD_SAME_LABEL",
		Purpose:        "Checks that fields have the same labels in a given message.",
		Deprecated:     true,
		ReplacementIDs: []string{"FIELD_SAME_CARDINALITY", "FIELD_WIRE_COMPATIBLE_CARDINALITY", "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY"},
		v1beta1:        &ruleVersion{Default: false, Categories: nil},
		v1:             &ruleVersion{Default: false, Categories: nil},
		v2:             nil,
	},
	{
		ID:             "FIELD_SAME_NAME",
		Purpose:        "Checks that fields have the same names in a given message.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON"}},
	},
	{
		ID:             "FIELD_SAME_ONEOF",
		Purpose:        "Checks that fields have the same oneofs in a given message.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "FIELD_SAME_TYPE",
		Purpose:        "Checks that fields have the same types in a given message.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE"}},
	},
	{
		ID:             "FIELD_SAME_UTF8_VALIDATION",
		Purpose:        "Checks that string fields have the same UTF8 validation mode.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FIELD_WIRE_COMPATIBLE_CARDINALITY",
		Purpose:        "Checks that fields have wire-compatible cardinalities in a given message.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: false, Categories: []string{"WIRE"}},
		v1:             &ruleVersion{Default: false, Categories: []string{"WIRE"}},
		v2:             &ruleVersion{Default: false, Categories: []string{"WIRE"}},
	},
	{
		ID:             "FIELD_WIRE_COMPATIBLE_TYPE",
		Purpose:        "Checks that fields have wire-compatible types in a given message.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        nil,
		v1:             &ruleVersion{Default: false, Categories: []string{"WIRE"}},
		v2:             &ruleVersion{Default: false, Categories: []string{"WIRE"}},
	},
	{
		ID:             "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
		Purpose:        "Checks that fields have wire and JSON compatible cardinalities in a given message.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: false, Categories: []string{"WIRE_JSON"}},
		v1:             &ruleVersion{Default: false, Categories: []string{"WIRE_JSON"}},
		v2:             &ruleVersion{Default: false, Categories: []string{"CSR", "WIRE_JSON"}},
	},
	{
		ID:             "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
		Purpose:        "Checks that fields have wire and JSON compatible types in a given message.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        nil,
		v1:             &ruleVersion{Default: false, Categories: []string{"WIRE_JSON"}},
		v2:             &ruleVersion{Default: false, Categories: []string{"CSR", "WIRE_JSON"}},
	},
	{
		ID:             "FILE_NO_DELETE",
		Purpose:        "Checks that files are not deleted.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE"}},
	},
	{
		ID:             "FILE_SAME_CC_ENABLE_ARENAS",
		Purpose:        "Checks that files have the same value for the cc_enable_arenas option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_CC_GENERIC_SERVICES",
		Purpose:        "Checks that files have the same value for the cc_generic_services option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_CSHARP_NAMESPACE",
		Purpose:        "Checks that files have the same value for the csharp_namespace option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_GO_PACKAGE",
		Purpose:        "Checks that files have the same value for the go_package option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_JAVA_GENERIC_SERVICES",
		Purpose:        "Checks that files have the same value for the java_generic_services option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_JAVA_MULTIPLE_FILES",
		Purpose:        "Checks that files have the same value for the java_multiple_files option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_JAVA_OUTER_CLASSNAME",
		Purpose:        "Checks that files have the same value for the java_outer_classname option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_JAVA_PACKAGE",
		Purpose:        "Checks that files have the same value for the java_package option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_JAVA_STRING_CHECK_UTF8",
		Purpose:        "Checks that files have the same value for the java_string_check_utf8 option.",
		Deprecated:     true,
		ReplacementIDs: []string{"FIELD_SAME_JAVA_UTF8_VALIDATION"},
		v1beta1:        &ruleVersion{Default: false, Categories: nil},
		v1:             &ruleVersion{Default: false, Categories: nil},
		v2:             nil,
	},
	{
		ID:             "FILE_SAME_OBJC_CLASS_PREFIX",
		Purpose:        "Checks that files have the same value for the objc_class_prefix option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_OPTIMIZE_FOR",
		Purpose:        "Checks that files have the same value for the optimize_for option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_PACKAGE",
		Purpose:        "Checks that files have the same package.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "FILE_SAME_PHP_CLASS_PREFIX",
		Purpose:        "Checks that files have the same value for the php_class_prefix option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_PHP_GENERIC_SERVICES",
		Purpose:        "Checks that files have the same value for the php_generic_services option.",
		Deprecated:     true,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: false, Categories: nil},
		v1:             &ruleVersion{Default: false, Categories: nil},
		v2:             nil,
	},
	{
		ID:             "FILE_SAME_PHP_METADATA_NAMESPACE",
		Purpose:        "Checks that files have the same value for the php_metadata_namespace option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_PHP_NAMESPACE",
		Purpose:        "Checks that files have the same value for the php_namespace option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_PY_GENERIC_SERVICES",
		Purpose:        "Checks that files have the same value for the py_generic_services option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_RUBY_PACKAGE",
		Purpose:        "Checks that files have the same value for the ruby_package option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_SWIFT_PREFIX",
		Purpose:        "Checks that files have the same value for the swift_prefix option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "FILE_SAME_SYNTAX",
		Purpose:        "Checks that files have the same syntax.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE"}},
	},
	{
		ID:             "MESSAGE_NO_DELETE",
		Purpose:        "Checks that messages are not deleted from a given file.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE"}},
	},
	{
		ID:             "MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR",
		Purpose:        "Checks that messages do not change the no_standard_descriptor_accessor option from false or unset to true.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE"}},
	},
	{
		ID:             "MESSAGE_SAME_JSON_FORMAT",
		Purpose:        "Checks that messages have the same JSON format support.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON"}},
	},
	{
		ID:             "MESSAGE_SAME_MESSAGE_SET_WIRE_FORMAT",
		Purpose:        "Checks that messages have the same value for the message_set_wire_format option.",
		Deprecated:     true,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: false, Categories: nil},
		v1:             &ruleVersion{Default: false, Categories: nil},
		v2:             &ruleVersion{Default: false, Categories: nil},
	},
	{
		ID:             "MESSAGE_SAME_REQUIRED_FIELDS",
		Purpose:        "Checks that messages have no added or deleted required fields.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "ONEOF_NO_DELETE",
		Purpose:        "Checks that oneofs are not deleted from a given message.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE"}},
	},
	{
		ID:             "PACKAGE_ENUM_NO_DELETE",
		Purpose:        "Checks that enums are not deleted from a given package.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
		v1:             &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
		v2:             &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
	},
	{
		ID:             "PACKAGE_EXTENSION_NO_DELETE",
		Purpose:        "Checks that extensions are not deleted from a given package.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        nil,
		v1:             nil,
		v2:             &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
	},
	{
		ID:             "PACKAGE_MESSAGE_NO_DELETE",
		Purpose:        "Checks that messages are not deleted from a given package.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
		v1:             &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
		v2:             &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
	},
	{
		ID:             "PACKAGE_NO_DELETE",
		Purpose:        "Checks that packages are not deleted.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
		v1:             &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
		v2:             &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
	},
	{
		ID:             "PACKAGE_SERVICE_NO_DELETE",
		Purpose:        "Checks that services are not deleted from a given package.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
		v1:             &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
		v2:             &ruleVersion{Default: false, Categories: []string{"PACKAGE"}},
	},
	{
		ID:             "RESERVED_ENUM_NO_DELETE",
		Purpose:        "Checks that reserved ranges and names are not deleted from a given enum.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "RESERVED_MESSAGE_NO_DELETE",
		Purpose:        "Checks that reserved ranges and names are not deleted from a given message.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "RPC_NO_DELETE",
		Purpose:        "Checks that rpcs are not deleted from a given service.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE"}},
	},
	{
		ID:             "RPC_SAME_CLIENT_STREAMING",
		Purpose:        "Checks that rpcs have the same client streaming value.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "RPC_SAME_IDEMPOTENCY_LEVEL",
		Purpose:        "Checks that rpcs have the same value for the idempotency_level option.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "RPC_SAME_REQUEST_TYPE",
		Purpose:        "Checks that rpcs are have the same request type.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "RPC_SAME_RESPONSE_TYPE",
		Purpose:        "Checks that rpcs are have the same response type.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "RPC_SAME_SERVER_STREAMING",
		Purpose:        "Checks that rpcs have the same server streaming value.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"CSR", "FILE", "PACKAGE", "WIRE_JSON", "WIRE"}},
	},
	{
		ID:             "SERVICE_NO_DELETE",
		Purpose:        "Checks that services are not deleted from a given file.",
		Deprecated:     false,
		ReplacementIDs: nil,
		v1beta1:        &ruleVersion{Default: true, Categories: []string{"FILE"}},
		v1:             &ruleVersion{Default: true, Categories: []string{"FILE"}},
		v2:             &ruleVersion{Default: true, Categories: []string{"FILE"}},
	}}

// natsrpcRuleSpecs are natsrpc's own rules. They belong to the NATSRPC
// category only, are never defaults and run only when NATSRPC rules are
// switched on (see [Config.NATSRPC]).
var natsrpcRuleSpecs = []ruleSpec{
	{
		ID:      RuleNATSRPCSubjectNoChange,
		Purpose: "Checks that the effective NATS subject of a method does not change.",
	},
	{
		ID:      RuleNATSRPCKindNoChange,
		Purpose: "Checks that a method's NATS kind (unary, server, client or bidi stream, event) does not change.",
	},
	{
		ID:      RuleNATSRPCQueueGroupNoChange,
		Purpose: "Checks that the queue group a method's subscription joins does not change.",
	},
	{
		ID:      RuleNATSRPCSubjectNoDelete,
		Purpose: "Checks that no NATS subject that clients call disappears: methods, services or skip options that remove a subject.",
	},
}

// NATSRPC rule IDs.
const (
	RuleNATSRPCSubjectNoChange    = "NATSRPC_SUBJECT_NO_CHANGE"
	RuleNATSRPCKindNoChange       = "NATSRPC_KIND_NO_CHANGE"
	RuleNATSRPCQueueGroupNoChange = "NATSRPC_QUEUE_GROUP_NO_CHANGE"
	RuleNATSRPCSubjectNoDelete    = "NATSRPC_SUBJECT_NO_DELETE"
)

func (s *ruleSpec) forVersion(v Version) *ruleVersion {
	switch v {
	case VersionV1Beta1:
		return s.v1beta1
	case VersionV1:
		return s.v1
	default:
		return s.v2
	}
}

// Rules returns buf's breaking rules for a buf.yaml version, sorted by ID,
// deprecated ones included. An unknown version means v2.
func Rules(v Version) []Rule {
	var out []Rule
	for i := range ruleSpecs {
		s := &ruleSpecs[i]
		rv := s.forVersion(v)
		if rv == nil {
			continue
		}
		out = append(out, Rule{
			ID:             s.ID,
			Purpose:        s.Purpose,
			Categories:     slices.Clone(rv.Categories),
			Default:        rv.Default,
			Deprecated:     s.Deprecated,
			ReplacementIDs: slices.Clone(s.ReplacementIDs),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// NATSRPCRules returns natsrpc's own rules, all in the NATSRPC category.
func NATSRPCRules() []Rule {
	var out []Rule
	for _, s := range natsrpcRuleSpecs {
		out = append(out, Rule{ID: s.ID, Purpose: s.Purpose, Categories: []string{CategoryNATSRPC}})
	}
	return out
}

// RuleIDsInCategory returns the non-deprecated rule IDs of a category for
// a buf.yaml version, sorted.
func RuleIDsInCategory(v Version, category string) []string {
	if category == CategoryNATSRPC {
		var ids []string
		for _, s := range natsrpcRuleSpecs {
			ids = append(ids, s.ID)
		}
		sort.Strings(ids)
		return ids
	}
	var ids []string
	for _, r := range Rules(v) {
		if !r.Deprecated && slices.Contains(r.Categories, category) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}
