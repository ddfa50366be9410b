package store

// The googleapis descriptors the registry serves as built-in files (see
// IsBuiltinFile): google/api/annotations.proto, http.proto, httpbody.proto
// and the other files of these packages, as google.golang.org/genproto
// ships them, so that resolving a module that imports them needs no copy
// of googleapis.
import (
	_ "google.golang.org/genproto/googleapis/api/annotations"
	_ "google.golang.org/genproto/googleapis/api/httpbody"
)
