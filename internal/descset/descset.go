// Package descset is the registry's pure descriptor-set logic: the
// canonical form of a file descriptor and its digest, the import closure
// of a set of files, and the pruning of a set to the declarations some
// symbols need.
//
// It depends on protobuf-go alone (no compiler, no JetStream), so that
// what a service imports can compute the same digest the registry stores
// (the runtime of its compiled-in schema, for instance), and so that it can
// be read and fuzzed on its own. The registry server (registry/server/store)
// builds on it.
package descset

import (
	"fmt"
	"strings"
)

// BufImageExtensionField is the field number of buf's ImageFileExtension
// on an image's FileDescriptorProto (buf.alpha.image.v1.ImageFile); its
// field 1 is is_import. [Canonicalize] removes it.
const BufImageExtensionField = 8042

// natsrpcOptionsFile is the natsrpc options file, built into the registry.
const natsrpcOptionsFile = "natsrpc/v1/options.proto"

// IsBuiltinFile reports whether path is built into the registry: the
// well-known types and the rest of google/protobuf/, and the natsrpc
// options. Built-in files are never a module's own.
func IsBuiltinFile(path string) bool {
	return strings.HasPrefix(path, "google/protobuf/") || strings.HasPrefix(path, googleAPIDir) || path == natsrpcOptionsFile
}

// googleAPIDir holds the googleapis files (google.api.http annotations and
// their kin, which the gateway reads) treated like the well-known types: no
// module owns package google.api.
const googleAPIDir = "google/api/"

// IsReservedPackage reports whether pkg belongs to the built-in files.
func IsReservedPackage(pkg string) bool {
	return pkg == "google.protobuf" || strings.HasPrefix(pkg, "google.protobuf.") ||
		pkg == "google.api" || strings.HasPrefix(pkg, "google.api.") || pkg == "natsrpc.v1"
}

// Error says why a descriptor is not acceptable in canonical form: a
// caller's mistake, not a failure of this package. The registry reports it
// as invalid_argument.
type Error struct {
	err error
}

func errorf(format string, args ...any) *Error {
	return &Error{err: fmt.Errorf(format, args...)}
}

// Error returns the message.
func (e *Error) Error() string { return e.err.Error() }

// Unwrap returns the error the message wraps.
func (e *Error) Unwrap() error { return e.err }

// UnknownSymbolError is [Prune]'s error for a symbol that is neither a
// declaration nor a package of the set.
type UnknownSymbolError struct {
	// Symbol is the symbol as given, without a leading dot.
	Symbol string
}

// Error returns the message.
func (e *UnknownSymbolError) Error() string {
	return fmt.Sprintf("symbol %q is not defined in the module's files or their imports", e.Symbol)
}
