// Package perms derives the least-privilege nats-server permissions of
// each natsrpc role (`natsrpc perms`): the registry's roles from its API's
// subjects by right (docs/registry.md), the services' and their clients'
// from the schemas (docs/wire.md §13).
package perms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// Roles are the roles `natsrpc perms` knows, in the order --help lists
// them.
var Roles = []string{"registry", "reader", "pusher", "policy-admin", "admin", "service", "client", "gateway", "tap", "bridge"}

// The registry API's subjects (proto/natsrpc/registry/v1/registry.proto).
const (
	registryAll    = "natsrpc.registry.v1.>"
	readSubjects   = "natsrpc.registry.v1.read.>"
	pushSubjects   = "natsrpc.registry.v1.push.*."
	policySubjects = "natsrpc.registry.v1.policy.*."
	legacyService  = "natsrpc.registry.v1.RegistryService."
	eventSubject   = "natsrpc.registry.v1.RegistryEventsService.VersionCreated"
	defaultBucket  = "natsrpc_registry"
	defaultInbox   = "_INBOX"
)

// legacyReads are the read methods of RegistryService, the API before
// rights, which the lookup caches of services built against it call.
var legacyReads = []string{"GetPolicy", "ListModules", "ListVersions", "GetModuleVersion", "ResolveSymbol", "ResolveFile", "ResolveSubject", "FindFileDigest"}

// Request says which permissions to derive.
type Request struct {
	// Role is one of Roles.
	Role string
	// Module is the module of pusher and policy-admin.
	Module string
	// Services are the service of service and bridge (one), the services
	// a client calls, and every service for gateway and tap.
	Services []*spec.Service
	// InboxPrefix is the role's own reply inbox prefix; empty for the
	// role's default (_INBOX; a service's _INBOX_<micro name>).
	InboxPrefix string
	// ServiceInboxPrefix is, for a client, the inbox prefix of the
	// services it streams with (their control inboxes); empty for
	// _INBOX_<micro name>.
	ServiceInboxPrefix string
	// SubjectPrefix is the runtime subject prefix (natsrpc.WithSubjectPrefix)
	// of the services and the registry.
	SubjectPrefix string
	// Bucket is the registry's KV bucket; empty for natsrpc_registry.
	Bucket string
	// MaxStream bounds a stream's duration for a service's
	// allow_responses; 0 means one hour.
	MaxStream time.Duration
	// ShadowPrefix is, for a bridge, the subject prefix of the candidate
	// it mirrors calls to (natsrpc bridge --shadow-prefix); empty for no
	// shadow traffic.
	ShadowPrefix string
}

// Permissions is one nats-server permissions block.
type Permissions struct {
	Publish        Rule
	Subscribe      Rule
	AllowResponses *Responses
}

// Rule is the allow and deny lists of publish or subscribe.
type Rule struct {
	Allow, Deny []string
}

// Responses is allow_responses: Max responses per request (-1 for any)
// within Expires; the zero value is nats-server's default (one response).
type Responses struct {
	Max     int
	Expires time.Duration
}

var moduleRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// Derive returns the permissions of a role.
func Derive(r Request) (*Permissions, error) {
	if r.Bucket == "" {
		r.Bucket = defaultBucket
	}
	if r.MaxStream == 0 {
		r.MaxStream = time.Hour
	}
	if r.ShadowPrefix != "" && r.Role != "bridge" {
		return nil, fmt.Errorf("--shadow-prefix is for role bridge: the candidate a bridge mirrors calls to")
	}
	p := &Permissions{}
	pre := func(s string) string {
		if r.SubjectPrefix == "" {
			return s
		}
		return r.SubjectPrefix + "." + s
	}
	inbox := r.InboxPrefix
	if inbox == "" {
		inbox = defaultInbox
	}
	needModule := func() error {
		if r.Module == "" {
			return fmt.Errorf("role %s needs --module: the module whose right it grants", r.Role)
		}
		if !moduleRE.MatchString(r.Module) {
			return fmt.Errorf("--module %q is not a module name: 1 to 64 lowercase letters, digits, \"-\" and \"_\", starting with a letter", r.Module)
		}
		return nil
	}
	needService := func() error {
		if len(r.Services) != 1 {
			return fmt.Errorf("role %s needs --service: the full name of the one service it is for", r.Role)
		}
		return nil
	}
	read := func() {
		p.Publish.Allow = append(p.Publish.Allow, pre(readSubjects))
		for _, m := range legacyReads {
			p.Publish.Allow = append(p.Publish.Allow, pre(legacyService+m))
		}
		p.Subscribe.Allow = append(p.Subscribe.Allow, pre(eventSubject))
	}
	// Only the registry announces versions: every other role is denied the
	// event subject (lookup caches trust what arrives there).
	denyEvents := func() { p.Publish.Deny = append(p.Publish.Deny, pre(eventSubject)) }
	ownInbox := func() { p.Subscribe.Allow = append(p.Subscribe.Allow, inbox+".>") }

	switch r.Role {
	case "reader":
		read()
		ownInbox()
		denyEvents()
	case "pusher":
		if err := needModule(); err != nil {
			return nil, err
		}
		p.Publish.Allow = append(p.Publish.Allow, pre(pushSubjects+r.Module))
		read()
		ownInbox()
		denyEvents()
	case "policy-admin":
		if err := needModule(); err != nil {
			return nil, err
		}
		p.Publish.Allow = append(p.Publish.Allow, pre(policySubjects+r.Module))
		read()
		ownInbox()
		denyEvents()
	case "admin":
		p.Publish.Allow = append(p.Publish.Allow, pre(registryAll))
		p.Subscribe.Allow = append(p.Subscribe.Allow, pre(eventSubject))
		ownInbox()
		denyEvents()
	case "registry":
		registry(p, pre, inbox, r.Bucket)
	case "service", "bridge":
		if err := needService(); err != nil {
			return nil, err
		}
		s := r.Services[0]
		if r.InboxPrefix == "" {
			inbox = serviceInbox(s)
		}
		service(p, s, r.SubjectPrefix, inbox, r.MaxStream)
		if r.Role == "bridge" {
			read()
			denyEvents()
			if r.ShadowPrefix != "" {
				if err := spec.ValidateSubject(r.ShadowPrefix); err != nil {
					return nil, fmt.Errorf("--shadow-prefix %q: %w", r.ShadowPrefix, err)
				}
				shadowTraffic(p, s, r.SubjectPrefix, r.ShadowPrefix)
			}
		}
	case "client":
		if len(r.Services) == 0 {
			return nil, fmt.Errorf("role client needs --service: the full name of each service it calls")
		}
		for _, s := range r.Services {
			client(p, s, r.SubjectPrefix, r.ServiceInboxPrefix)
		}
		ownInbox()
		denyEvents()
	case "gateway":
		for _, s := range r.Services {
			client(p, s, r.SubjectPrefix, r.ServiceInboxPrefix)
		}
		read()
		ownInbox()
		denyEvents()
	case "tap":
		// Watch every service's subjects and the callers' inboxes; ask the
		// instances for their schemas and statistics.
		for _, s := range r.Services {
			for _, m := range s.Methods {
				p.Subscribe.Allow = append(p.Subscribe.Allow, prefixed(r.SubjectPrefix, m.Subject))
			}
		}
		p.Subscribe.Allow = append(p.Subscribe.Allow, defaultInbox+".>")
		if r.InboxPrefix != "" && r.InboxPrefix != defaultInbox {
			p.Subscribe.Allow = append(p.Subscribe.Allow, r.InboxPrefix+".>")
		}
		p.Publish.Allow = append(p.Publish.Allow, "$SRV.PING", "$SRV.PING.>", "$SRV.INFO", "$SRV.INFO.>", "$SRV.STATS", "$SRV.STATS.>", "$SRV.SCHEMA", "$SRV.SCHEMA.>")
		read()
		denyEvents()
	default:
		return nil, fmt.Errorf("unknown role %q: use one of %s", r.Role, strings.Join(Roles, ", "))
	}
	// nats-server reads a rule without an allow list as "allow all": a
	// role that needs nothing of a kind is denied everything of it
	// (responses still pass through allow_responses).
	if len(p.Publish.Allow) == 0 {
		p.Publish.Deny = []string{">"}
	}
	if len(p.Subscribe.Allow) == 0 {
		p.Subscribe.Deny = []string{">"}
	}
	p.Publish.Allow = dedupe(p.Publish.Allow)
	p.Publish.Deny = dedupe(p.Publish.Deny)
	p.Subscribe.Allow = dedupe(p.Subscribe.Allow)
	p.Subscribe.Deny = dedupe(p.Subscribe.Deny)
	return p, nil
}

func prefixed(prefix, subject string) string {
	if prefix == "" {
		return subject
	}
	return prefix + "." + subject
}

// shadowStream and shadowSubjects are where contrib/shadow keeps
// differences (shadow.DefaultStream, shadow.SubjectPrefix).
const (
	shadowStream   = "NATSRPC_SHADOW"
	shadowSubjects = "natsrpc.shadow."
)

// shadowTraffic is what a bridge mirroring s's calls to the candidate
// under shadowPrefix needs: to call the candidate's unary subjects (the
// answers come to the bridge's inbox), and to create the differences
// stream and publish s's differences to it.
func shadowTraffic(p *Permissions, s *spec.Service, prefix, shadowPrefix string) {
	for _, m := range s.Methods {
		if m.Skip || m.Kind != spec.KindUnary {
			continue
		}
		p.Publish.Allow = append(p.Publish.Allow, shadowPrefix+"."+prefixed(prefix, m.Subject))
	}
	p.Publish.Allow = append(p.Publish.Allow,
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO."+shadowStream, "$JS.API.STREAM.CREATE."+shadowStream, "$JS.API.STREAM.UPDATE."+shadowStream,
		shadowSubjects+s.MicroName+".>",
	)
}

// serviceInbox is a service's own inbox prefix by default: per service,
// so that its clients may publish to its stream control inboxes and to no
// one else's (docs/wire.md §13).
func serviceInbox(s *spec.Service) string { return defaultInbox + "_" + s.MicroName }

// registry is the registry server's user: its API subjects, announcing
// versions, discovery, and JetStream for its own buckets only.
func registry(p *Permissions, pre func(string) string, inbox, bucket string) {
	p.Subscribe.Allow = append(p.Subscribe.Allow, pre(registryAll), "$SRV.*", "$SRV.*.>", inbox+".>")
	p.Publish.Allow = append(p.Publish.Allow, pre(eventSubject), "$JS.API.INFO")
	for _, st := range []string{"KV_" + bucket, "OBJ_" + bucket + "_blobs", "OBJ_" + bucket + "_transfer"} {
		p.Publish.Allow = append(p.Publish.Allow,
			"$JS.API.STREAM.*."+st,
			"$JS.API.STREAM.MSG.GET."+st,
			"$JS.API.STREAM.MSG.DELETE."+st,
			"$JS.API.DIRECT.GET."+st,
			"$JS.API.DIRECT.GET."+st+".>",
			"$JS.API.CONSUMER.*."+st,
			"$JS.API.CONSUMER.*."+st+".>",
			"$JS.ACK."+st+".>",
			"$JS.FC."+st+".>",
		)
	}
	p.Publish.Allow = append(p.Publish.Allow, "$KV."+bucket+".>", "$O."+bucket+"_blobs.>", "$O."+bucket+"_transfer.>")
	p.AllowResponses = &Responses{}
}

// service is an instance of s: its subjects (in its queue group),
// discovery, its inbox, responses, and for durable events JetStream
// rights for their streams and consumers only.
func service(p *Permissions, s *spec.Service, prefix, inbox string, maxStream time.Duration) {
	streams := false
	for _, m := range s.Methods {
		if m.Skip {
			continue
		}
		subj := prefixed(prefix, m.Subject)
		if m.Durable != nil {
			st := durableStream(m, prefix)
			p.Publish.Allow = append(p.Publish.Allow,
				"$JS.API.INFO",
				"$JS.API.STREAM.INFO."+st, "$JS.API.STREAM.CREATE."+st, "$JS.API.STREAM.UPDATE."+st,
				"$JS.API.STREAM.INFO."+st+"_DLQ", "$JS.API.STREAM.CREATE."+st+"_DLQ", "$JS.API.STREAM.UPDATE."+st+"_DLQ",
				"$JS.API.CONSUMER.*."+st, "$JS.API.CONSUMER.*."+st+".>", "$JS.API.CONSUMER.MSG.NEXT."+st+".>",
				"$JS.ACK."+st+".>", "natsrpc.parked."+st,
			)
			continue
		}
		if m.QueueGroup != "" {
			p.Subscribe.Allow = append(p.Subscribe.Allow, subj+" "+m.QueueGroup)
		} else {
			p.Subscribe.Allow = append(p.Subscribe.Allow, subj)
		}
		if m.Kind != spec.KindUnary && m.Kind != spec.KindEvent {
			streams = true
		}
	}
	p.Subscribe.Allow = append(p.Subscribe.Allow, "$SRV.*", "$SRV.*."+s.MicroName, "$SRV.*."+s.MicroName+".>", inbox+".>")
	if streams {
		p.AllowResponses = &Responses{Max: -1, Expires: maxStream}
	} else {
		p.AllowResponses = &Responses{}
	}
}

// durableStream is the JetStream stream of a durable event, as the runtime
// names it.
func durableStream(m *spec.Method, prefix string) string {
	if st := m.Durable.GetStream(); st != "" {
		return st
	}
	return invalidStreamChars.ReplaceAllString(prefixed(prefix, m.Subject), "_")
}

var invalidStreamChars = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// client calls s: its subjects, and the services' control inboxes when it
// streams.
func client(p *Permissions, s *spec.Service, prefix, serviceInboxPrefix string) {
	streams := false
	for _, m := range s.Methods {
		if m.Skip {
			continue
		}
		p.Publish.Allow = append(p.Publish.Allow, prefixed(prefix, m.Subject))
		if m.Kind == spec.KindClientStream || m.Kind == spec.KindBidiStream || m.Kind == spec.KindServerStream {
			streams = true
		}
	}
	if streams {
		in := serviceInboxPrefix
		if in == "" {
			in = serviceInbox(s)
		}
		p.Publish.Allow = append(p.Publish.Allow, in+".>")
	}
}

func dedupe(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

// JSON returns the permissions as one nats-server permissions object.
func (p *Permissions) JSON() ([]byte, error) {
	m := map[string]any{}
	rule := func(r Rule) map[string]any {
		o := map[string]any{}
		if len(r.Allow) > 0 {
			o["allow"] = r.Allow
		}
		if len(r.Deny) > 0 {
			o["deny"] = r.Deny
		}
		return o
	}
	m["publish"] = rule(p.Publish)
	m["subscribe"] = rule(p.Subscribe)
	if p.AllowResponses != nil {
		if p.AllowResponses.Max == 0 && p.AllowResponses.Expires == 0 {
			m["allow_responses"] = true
		} else {
			m["allow_responses"] = map[string]any{"max": p.AllowResponses.Max, "expires": p.AllowResponses.Expires.String()}
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Conf returns the permissions in nats-server's configuration syntax, for
// a user's permissions: field.
func (p *Permissions) Conf() string {
	var b strings.Builder
	list := func(xs []string) string {
		q := make([]string, len(xs))
		for i, x := range xs {
			q[i] = quote(x)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	rule := func(name string, r Rule) {
		fmt.Fprintf(&b, "  %s: {\n", name)
		if len(r.Allow) > 0 {
			fmt.Fprintf(&b, "    allow: %s\n", list(r.Allow))
		}
		if len(r.Deny) > 0 {
			fmt.Fprintf(&b, "    deny: %s\n", list(r.Deny))
		}
		b.WriteString("  }\n")
	}
	b.WriteString("{\n")
	rule("publish", p.Publish)
	rule("subscribe", p.Subscribe)
	if p.AllowResponses != nil {
		if p.AllowResponses.Max == 0 && p.AllowResponses.Expires == 0 {
			b.WriteString("  allow_responses: true\n")
		} else {
			fmt.Fprintf(&b, "  allow_responses: {max: %d, expires: %q}\n", p.AllowResponses.Max, p.AllowResponses.Expires.String())
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// quote quotes a subject for nats-server's configuration ("$", "*" and
// ">" need quotes there).
func quote(s string) string {
	return strconv.Quote(s)
}
