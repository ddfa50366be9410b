package natsrpc

import (
	"fmt"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
)

// SchemaVerb is the discovery verb with which a service instance answers
// for its schema: a request on $SRV.SCHEMA (every instance of every
// service), $SRV.SCHEMA.<name> (every instance of one service) or
// $SRV.SCHEMA.<name>.<id> (one instance) is answered with a
// [SchemaResponse] in JSON, as $SRV.INFO is answered with micro.Info. It is
// the NATS counterpart of gRPC server reflection (docs/wire.md §14). The
// instance already subscribes to those subjects for the micro verbs, so
// answering costs no subscription and no permission more.
const SchemaVerb = "SCHEMA"

// SchemaResponseType is the type of a [SchemaResponse].
const SchemaResponseType = "io.natsrpc.v1.schema_response"

// Discovery metadata keys the runtime adds to a service's identity, so that
// tools can tell which schema an instance was built from without asking
// for the schema itself.
const (
	// MetadataFile is the path of the .proto file that defines the service.
	MetadataFile = "proto.file"
	// MetadataFileDigest is that file's digest, "sha256:<hex>" over its
	// canonical form without source info: the digest the schema registry
	// records for the file in every version that holds it.
	MetadataFileDigest = "proto.file_digest"
)

// SchemaResponse is what an instance answers on $SRV.SCHEMA: the file that
// defines its service and every file that file imports, transitively, as
// compiled into the program, with each file's digest as the schema registry
// computes it.
type SchemaResponse struct {
	micro.ServiceIdentity
	// Type is [SchemaResponseType].
	Type string `json:"type"`
	// Service is the service's fully-qualified proto name.
	Service string `json:"service"`
	// File is the path of the file that defines the service; its digest
	// is the identity's [MetadataFileDigest].
	File string `json:"file"`
	// Files are the paths and digests of the files in FileDescriptorSet,
	// in its order (every file after its imports, the service's file
	// last).
	Files []SchemaFile `json:"files"`
	// FileDescriptorSet is the binary google.protobuf.FileDescriptorSet of
	// those files (base64 in JSON), each in the registry's canonical form:
	// no source info, custom options as unknown fields sorted by number.
	FileDescriptorSet []byte `json:"file_descriptor_set"`
}

// SchemaFile is one file of a [SchemaResponse].
type SchemaFile struct {
	// Name is the file's path, e.g. "gaming/common/v1/common.proto".
	Name string `json:"name"`
	// Digest is "sha256:<hex>" over the file's canonical form without
	// source info (the registry's per-file digest).
	Digest string `json:"digest"`
}

// fileSchema is what the runtime computes, once per file, for the
// services defined in the file. The file's own digest (for the discovery
// metadata) and the closure (for $SRV.SCHEMA) are computed separately and
// lazily: a service pays for neither until someone asks.
type fileSchema struct {
	fd protoreflect.FileDescriptor

	digestOnce sync.Once
	digest     string

	setOnce sync.Once
	files   []SchemaFile
	set     []byte
	setErr  error
}

// schemas holds a *fileSchema per file descriptor. Files are immutable and
// few, so the entries are never removed; services of the same file (and
// every instance of a service in one process) share one.
var schemas sync.Map

func schemaOf(fd protoreflect.FileDescriptor) *fileSchema {
	if v, ok := schemas.Load(fd); ok {
		return v.(*fileSchema)
	}
	v, _ := schemas.LoadOrStore(fd, &fileSchema{fd: fd})
	return v.(*fileSchema)
}

// canonical converts files to the registry's canonical form: encoded,
// decoded again without resolving extensions (custom options become
// unknown fields, as the registry decodes a push) and canonicalized.
func canonical(files []*descriptorpb.FileDescriptorProto) (*descriptorpb.FileDescriptorSet, error) {
	b, err := descset.Marshal(&descriptorpb.FileDescriptorSet{File: files})
	if err != nil {
		return nil, err
	}
	set, err := descset.Unmarshal(b)
	if err != nil {
		return nil, err
	}
	for _, fd := range set.GetFile() {
		if _, _, err := descset.Canonicalize(fd); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// fileDigest returns the digest of the file alone, "" if it cannot be
// computed (it always can for a file the Go protobuf runtime linked).
func (s *fileSchema) fileDigest() string {
	s.digestOnce.Do(func() {
		set, err := canonical([]*descriptorpb.FileDescriptorProto{protodesc.ToFileDescriptorProto(s.fd)})
		if err != nil {
			return
		}
		s.digest, _ = descset.FileDigest(set.GetFile()[0])
	})
	return s.digest
}

// closure returns the file and its imports with their digests, and the
// serialized set.
func (s *fileSchema) closure() ([]SchemaFile, []byte, error) {
	s.setOnce.Do(func() {
		set, err := canonical(descset.Closure(s.fd).GetFile())
		if err != nil {
			s.setErr = fmt.Errorf("the schema of %q: %w", s.fd.Path(), err)
			return
		}
		files := make([]SchemaFile, 0, len(set.GetFile()))
		for _, fd := range set.GetFile() {
			d, err := descset.FileDigest(fd)
			if err != nil {
				s.setErr = fmt.Errorf("the digest of %q: %w", fd.GetName(), err)
				return
			}
			files = append(files, SchemaFile{Name: fd.GetName(), Digest: d})
		}
		b, err := descset.Marshal(set)
		if err != nil {
			s.setErr = fmt.Errorf("encode the schema of %q: %w", s.fd.Path(), err)
			return
		}
		s.files, s.set = files, b
	})
	return s.files, s.set, s.setErr
}

// Schema returns what the instance answers on $SRV.SCHEMA. The descriptors
// are computed on the first call (by any instance in the process of a
// service of the same file) and shared afterwards.
func (s *Service) Schema() (*SchemaResponse, error) {
	files, set, err := schemaOf(s.spec.Desc.ParentFile()).closure()
	if err != nil {
		return nil, err
	}
	return &SchemaResponse{
		ServiceIdentity:   s.identity(),
		Type:              SchemaResponseType,
		Service:           s.spec.FullName,
		File:              s.spec.Desc.ParentFile().Path(),
		Files:             slices.Clone(files),
		FileDescriptorSet: slices.Clone(set),
	}, nil
}
