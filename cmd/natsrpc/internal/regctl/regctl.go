// Package regctl is what the natsrpc CLI's registry commands do, as a
// library: push an input, fetch a version as a buf image, describe a
// symbol in .proto syntax, load a version as the against side of a
// breaking-change check, run a registry. The commands under
// cmd/natsrpc/internal/command only parse flags, call these functions and
// print their results.
package regctl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// ModuleRef is a module and optionally a version: "gaming" or "gaming@3".
type ModuleRef struct {
	// Module is the module name.
	Module string
	// Version is the version number; 0 means the latest.
	Version uint64
}

// String returns "module" or "module@version".
func (r ModuleRef) String() string {
	if r.Version == 0 {
		return r.Module
	}
	return r.Module + "@" + strconv.FormatUint(r.Version, 10)
}

// ParseModuleRef parses "MODULE" or "MODULE@VERSION" (VERSION a number
// from 1, or "latest").
func ParseModuleRef(s string) (ModuleRef, error) {
	name, version, hasVersion := strings.Cut(s, "@")
	if err := store.ValidateModuleName(name); err != nil {
		return ModuleRef{}, fmt.Errorf("%q: %w", s, err)
	}
	ref := ModuleRef{Module: name}
	if hasVersion && version != "latest" {
		v, err := strconv.ParseUint(version, 10, 64)
		if err != nil || v == 0 {
			return ModuleRef{}, fmt.Errorf("%q: version %q is not a number from 1 (or \"latest\"); write MODULE@VERSION, e.g. %s@3", s, version, name)
		}
		ref.Version = v
	}
	return ref, nil
}

// Explain adds what to do to errors whose cause the caller can fix: no
// registry listening, a registry too slow to answer. server is the NATS
// URL the CLI connected to; its secrets are redacted.
func Explain(err error, server string) error {
	if err == nil {
		return nil
	}
	server = RedactURLs(server)
	switch natsrpc.CodeOf(err) {
	case natsrpc.CodeUnavailable:
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("no registry answers on %s: start one with `natsrpc registry serve` (add --embedded for a local NATS server), or point --server at the NATS server it uses: %w", server, err)
		}
		return fmt.Errorf("the registry is unavailable; retry in a moment: %w", err)
	case natsrpc.CodeDeadlineExceeded:
		return fmt.Errorf("the registry did not answer in time; retry, and check that JetStream is healthy: %w", err)
	case natsrpc.CodeAborted:
		return fmt.Errorf("other pushes kept winning the race for the module; retry: %w", err)
	}
	return err
}
