package store

import (
	"context"
	"strings"
	"time"
)

// VersionEvent announces a module's new latest version.
type VersionEvent struct {
	// Module is the module name.
	Module string
	// Version is the new latest version.
	Version uint64
	// Digest is its digest.
	Digest string
	// Time is when it was created.
	Time time.Time
	// Current is true for events describing the state when the watch
	// started (WatchOptions.IncludeCurrent), false for new versions.
	Current bool
}

// WatchOptions selects what [Registry.Watch] reports.
type WatchOptions struct {
	// Module restricts the watch to one module; empty watches all.
	Module string
	// IncludeCurrent first reports every watched module's latest version
	// as it is when the watch starts.
	IncludeCurrent bool
}

// Watch reports new versions as they are committed, until ctx ends (then
// the channel is closed). It watches the module heads in the KV bucket,
// the commit points of pushes, so it never misses a version: after a
// reconnect the underlying consumer resumes where it left off. It reports
// the latest version of a module; when several versions land in quick
// succession, a slow reader may see only the last.
func (r *Registry) Watch(ctx context.Context, opts WatchOptions) (<-chan VersionEvent, error) {
	filter := "mod.*.head"
	if opts.Module != "" {
		if err := ValidateModuleName(opts.Module); err != nil {
			return nil, err
		}
		filter = headKey(opts.Module)
	}
	w, err := r.store.Watch(ctx, filter, opts.IncludeCurrent)
	if err != nil {
		return nil, storeError(err, "watch module heads")
	}
	out := make(chan VersionEvent, 64)
	go func() {
		defer close(out)
		defer func() { _ = w.Stop() }()
		current := opts.IncludeCurrent
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					current = false
					continue
				}
				module := strings.TrimSuffix(strings.TrimPrefix(e.Key(), "mod."), ".head")
				h, err := decodeHead(module, e.Value())
				if err != nil {
					continue
				}
				ev := VersionEvent{
					Module:  module,
					Version: h.Version,
					Digest:  h.Digest,
					Time:    h.Time,
					Current: current,
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
