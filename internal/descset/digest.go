package descset

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Marshal encodes m deterministically: the bytes the registry stores and
// digests.
func Marshal(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// Sum returns "sha256:<hex>" of b, the form of every digest the registry
// reports.
func Sum(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Digest is the digest of a module version: [Sum] over the [Marshal]ed
// FileDescriptorSet of the module's own files, each in canonical form (see
// [Canonicalize]), sorted by path. own must already be so; source info is
// part of it.
func Digest(own []*descriptorpb.FileDescriptorProto) (string, error) {
	b, err := Marshal(&descriptorpb.FileDescriptorSet{File: own})
	if err != nil {
		return "", err
	}
	return Sum(b), nil
}

// FileDigest is a file's identity whoever compiled it: the digest of its
// canonical form without source info and with json_name cleared where it
// equals the default. fd is not modified.
func FileDigest(fd *descriptorpb.FileDescriptorProto) (string, error) {
	c := proto.CloneOf(fd)
	c.SourceCodeInfo = nil
	clearDefaultJSONNames(c.GetExtension())
	var walk func(msgs []*descriptorpb.DescriptorProto)
	walk = func(msgs []*descriptorpb.DescriptorProto) {
		for _, m := range msgs {
			clearDefaultJSONNames(m.GetField())
			clearDefaultJSONNames(m.GetExtension())
			walk(m.GetNestedType())
		}
	}
	walk(c.GetMessageType())
	b, err := Marshal(c)
	if err != nil {
		return "", err
	}
	return Sum(b), nil
}

func clearDefaultJSONNames(fields []*descriptorpb.FieldDescriptorProto) {
	for _, f := range fields {
		if f.JsonName != nil && f.GetJsonName() == DefaultJSONName(f.GetName()) {
			f.JsonName = nil
		}
	}
}

// DefaultJSONName is the JSON name protoc gives a field that sets none: the
// field name with underscores dropped and the letter after each one
// upper-cased. A json_name equal to it says nothing.
func DefaultJSONName(field string) string {
	var b strings.Builder
	upper := false
	for i := 0; i < len(field); i++ {
		c := field[i]
		switch {
		case c == '_':
			upper = true
		case upper && c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
			upper = false
		default:
			b.WriteByte(c)
			upper = false
		}
	}
	return b.String()
}
