package fleet

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
	"github.com/natsrpc/natsrpc/internal/descset"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/client"
)

// Report is what `natsrpc status` shows: every running instance, by
// service, with which registry version its schema is.
type Report struct {
	// Registry is "ok", or why the registry could not be asked.
	Registry string `json:"registry"`
	// Instances are sorted by service, then id.
	Instances []InstanceStatus `json:"instances"`
}

// InstanceStatus is one instance in a [Report].
type InstanceStatus struct {
	Service  string    `json:"service"`
	Name     string    `json:"name"`
	ID       string    `json:"id"`
	Version  string    `json:"version"`
	Started  time.Time `json:"started"`
	Uptime   string    `json:"uptime"`
	Requests int       `json:"requests"`
	Errors   int       `json:"errors"`
	File     string    `json:"file"`
	Digest   string    `json:"file_digest"`
	// Schema says which registry versions have the instance's file.
	Schema SchemaMatch `json:"schema"`
	// Check is the breaking-change check of the instance's schema
	// against the module's latest version; nil when not needed (the
	// schema is the latest's) or not possible (no registry, no digest).
	Check *SchemaCheck `json:"check,omitempty"`
}

// SchemaMatch says which registry versions an instance's schema is.
type SchemaMatch struct {
	// State is "latest" (the file of the module's latest version),
	// "older" (of older versions only), "none" (of no version: a build
	// from an unpushed schema), or "unknown" (no digest advertised, or no
	// registry).
	State  string         `json:"state"`
	Module string         `json:"module,omitempty"`
	Ranges []VersionRange `json:"ranges"`
	Latest uint64         `json:"latest_version,omitempty"`
	// Text is the match as `status` prints it: "gaming@3..7", "no
	// registry version", "unknown: ...".
	Text string `json:"text"`
}

// VersionRange is a run of consecutive versions.
type VersionRange struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// SchemaCheck is the breaking-change check of the schema an instance
// serves against the latest version of its module.
type SchemaCheck struct {
	// Against is "module@version".
	Against string `json:"against"`
	// Breaks is true when the check found breaking changes.
	Breaks bool `json:"breaks"`
	// Findings are the breaking changes, one line each
	// ("file:line:col:message (RULE)").
	Findings []string `json:"findings"`
	// Error says why the check could not run.
	Error string `json:"error,omitempty"`
}

// StatusOptions tune [Status].
type StatusOptions struct {
	// Gather bounds discovery.
	Gather Gather
	// SchemaTimeout bounds a $SRV.SCHEMA request. Default 3 s.
	SchemaTimeout time.Duration
	// Now is the clock uptimes are computed with. Default time.Now.
	Now func() time.Time
}

// Status discovers the running instances ($SRV.INFO and STATS) and joins
// them with the registry: the versions that have each instance's file
// (its advertised digest, FindFileDigest), and, for an instance whose
// file is not the latest version's, the check of the schema it serves
// ($SRV.SCHEMA) against the latest under the module's policy. Without a
// registry it reports the instances alone.
func Status(ctx context.Context, nc *nats.Conn, c *client.Client, server string, opts StatusOptions) (*Report, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.SchemaTimeout <= 0 {
		opts.SchemaTimeout = 3 * time.Second
	}
	instances, err := opts.Gather.Discover(ctx, nc, "")
	if err != nil {
		return nil, err
	}
	rep := &Report{Registry: "ok", Instances: []InstanceStatus{}}
	matches := map[string][]*registryv1.FileDigestMatch{}
	registry := true
	checks := map[string]*SchemaCheck{} // by digest
	for _, in := range instances {
		st := InstanceStatus{
			Service: in.Service(),
			Name:    in.Name(),
			ID:      in.ID(),
			Version: in.Info.Version,
			File:    in.File(),
			Digest:  in.FileDigest(),
		}
		if st.Service == "" {
			st.Service = in.Name()
		}
		if in.Stats != nil && !in.Stats.Started.IsZero() {
			st.Started = in.Stats.Started.UTC()
			st.Uptime = now().Sub(in.Stats.Started).Round(time.Second).String()
		}
		st.Requests, st.Errors = in.Requests()
		switch {
		case in.Service() == "":
			st.Schema = SchemaMatch{State: "unknown", Text: "unknown: not a natsrpc service", Ranges: []VersionRange{}}
		case st.Digest == "":
			st.Schema = SchemaMatch{State: "unknown", Text: "unknown: the instance advertises no proto.file_digest (natsrpc runtime older than 0.3, or another language's)", Ranges: []VersionRange{}}
		case !registry:
			st.Schema = SchemaMatch{State: "unknown", Text: "unknown: no registry", Ranges: []VersionRange{}}
		default:
			ms, ok := matches[st.Digest]
			if !ok {
				ms, err = c.FindFileDigest(ctx, st.Digest)
				if err != nil {
					if natsrpc.CodeOf(err) == natsrpc.CodeUnavailable || natsrpc.CodeOf(err) == natsrpc.CodeUnimplemented || natsrpc.CodeOf(err) == natsrpc.CodeDeadlineExceeded {
						registry = false
						rep.Registry = regctl.Explain(err, server).Error()
						st.Schema = SchemaMatch{State: "unknown", Text: "unknown: no registry", Ranges: []VersionRange{}}
						break
					}
					return nil, regctl.Explain(err, server)
				}
				matches[st.Digest] = ms
			}
			st.Schema = match(ms, st.File)
			if st.Schema.State == "latest" {
				break
			}
			check, ok := checks[st.Digest]
			if !ok {
				check = checkServed(ctx, nc, c, in, st.Schema, opts.SchemaTimeout)
				checks[st.Digest] = check
			}
			st.Check = check
		}
		rep.Instances = append(rep.Instances, st)
	}
	return rep, nil
}

// match picks the match of the instance's file among the digest's.
func match(ms []*registryv1.FileDigestMatch, file string) SchemaMatch {
	var m *registryv1.FileDigestMatch
	for _, x := range ms {
		if x.GetFile() == file || m == nil {
			m = x
		}
	}
	if m == nil {
		return SchemaMatch{State: "none", Text: "no registry version", Ranges: []VersionRange{}}
	}
	out := SchemaMatch{Module: m.GetModule(), Latest: m.GetLatestVersion(), Ranges: []VersionRange{}}
	for _, r := range m.GetRanges() {
		out.Ranges = append(out.Ranges, VersionRange{First: r.GetFirst(), Last: r.GetLast()})
	}
	out.State = "older"
	if n := len(out.Ranges); n > 0 && out.Ranges[n-1].Last == out.Latest {
		out.State = "latest"
	}
	// The newest run first: "gaming@3..7", then older runs.
	var runs []string
	for i := len(out.Ranges) - 1; i >= 0; i-- {
		r := out.Ranges[i]
		s := strconv.FormatUint(r.First, 10)
		if r.Last != r.First {
			s += ".." + strconv.FormatUint(r.Last, 10)
		}
		runs = append(runs, s)
	}
	if len(runs) == 0 {
		out.Text = out.Module
		return out
	}
	out.Text = out.Module + "@" + runs[0]
	if len(runs) > 1 {
		out.Text += " (also @" + strings.Join(runs[1:], ", @") + ")"
	}
	if out.State == "latest" {
		out.Text += " (latest)"
	} else {
		out.Text += fmt.Sprintf(" (latest %d)", out.Latest)
	}
	return out
}

// checkServed checks the schema instance in serves against the latest
// version of its module: the module that has its file, else the module
// that owns the file's path or the service's package.
func checkServed(ctx context.Context, nc *nats.Conn, c *client.Client, in *Instance, m SchemaMatch, timeout time.Duration) *SchemaCheck {
	module := m.Module
	if module == "" {
		res, _, err := c.ResolveSymbol(ctx, &registryv1.ResolveSymbolRequest{Symbol: in.Service(), ExcludeSourceInfo: true})
		if err == nil {
			module = res.GetModule()
		} else if natsrpc.CodeOf(err) != natsrpc.CodeNotFound {
			return &SchemaCheck{Error: err.Error(), Findings: []string{}}
		}
	}
	if module == "" {
		return &SchemaCheck{Error: fmt.Sprintf("no registry module defines %s: nothing to check against", in.Service()), Findings: []string{}}
	}
	schema, err := Schema(ctx, nc, in.Name(), in.ID(), timeout)
	if err != nil {
		return &SchemaCheck{Error: err.Error(), Findings: []string{}}
	}
	set, err := descset.Unmarshal(schema.FileDescriptorSet)
	if err != nil {
		return &SchemaCheck{Error: fmt.Sprintf("the schema instance %s serves does not decode: %v", in.ID(), err), Findings: []string{}}
	}
	res, err := regctl.CheckServedSchema(ctx, c, module, set, schema.File)
	if err != nil {
		return &SchemaCheck{Error: err.Error(), Findings: []string{}}
	}
	out := &SchemaCheck{Against: fmt.Sprintf("%s@%d", res.Module, res.Version), Findings: []string{}}
	for _, v := range res.Violations {
		out.Findings = append(out.Findings, v.String())
	}
	out.Breaks = len(out.Findings) > 0
	return out
}
