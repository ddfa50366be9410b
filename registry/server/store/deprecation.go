package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// Deprecation: an administrator marks a module deprecated, with a message
// saying why and what to use instead; listings show it. The key
// mod.<module>.deprecated holds a deprecationRecord while the module is
// deprecated.

// maxDeprecationMessage bounds the message, shown in every listing.
const maxDeprecationMessage = 512

type deprecationRecord struct {
	Format  int       `json:"format"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

func deprecationKey(module string) string { return "mod." + module + ".deprecated" }

// DeprecateModule marks a module deprecated with message (or, with undo,
// no longer deprecated) and returns whether it is deprecated now. The
// module must have a version or a policy.
func (r *Registry) DeprecateModule(ctx context.Context, module, message string, undo bool) (bool, error) {
	status, err := r.ModuleStatus(ctx, module)
	if err != nil {
		return false, err
	}
	if status == ModuleUnknown {
		return false, notFoundf("module %q has no version and no policy: nothing to deprecate", module)
	}
	if len(message) > maxDeprecationMessage {
		return false, invalidf("the deprecation message has %d bytes; at most %d", len(message), maxDeprecationMessage)
	}
	if undo {
		e, err := r.store.Get(ctx, deprecationKey(module))
		if errors.Is(err, jsstore.ErrNotFound) || (err == nil && e.Deleted) {
			return false, nil
		}
		if err != nil {
			return false, storeError(err, "read the deprecation of module %q", module)
		}
		if _, err := r.store.Commit(ctx, []jsstore.Op{{Key: deprecationKey(module), Delete: true, ExpectedRevision: e.Revision}}); err != nil {
			return false, storeError(err, "remove the deprecation of module %q", module)
		}
		return false, nil
	}
	value, _ := json.Marshal(deprecationRecord{Format: recordFormat, Message: message, Time: r.now().UTC()})
	if _, err := r.store.Put(ctx, deprecationKey(module), value); err != nil {
		return false, storeError(err, "deprecate module %q", module)
	}
	return true, nil
}

// deprecations returns the deprecated modules' messages.
func (r *Registry) deprecations(ctx context.Context) (map[string]string, error) {
	entries, err := r.store.Entries(ctx, "mod.*.deprecated")
	if err != nil {
		return nil, storeError(err, "list deprecated modules")
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		var rec deprecationRecord
		if err := json.Unmarshal(e.Value, &rec); err != nil {
			return nil, internalf("deprecation %q is corrupt: %w", e.Key, err)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(e.Key, "mod."), ".deprecated")] = rec.Message
	}
	return out, nil
}
