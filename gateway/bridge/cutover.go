package bridge

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/spec"
)

// DefaultNewPrefix is the subject prefix the new implementation serves
// under during a cutover (and, passed to the bridge as --shadow-prefix,
// while it is shadowed).
const DefaultNewPrefix = "next"

// Cutover is a weighted cutover of one service from the bridge (or the
// old implementation, on the public subjects) to its new implementation
// (serving under NewPrefix).
type Cutover struct {
	// Service is the service.
	Service protoreflect.ServiceDescriptor
	// Percent is the share of calls sent to the new implementation, 0 to
	// 100 (nats-server weighs mappings in whole percents).
	Percent int
	// NewPrefix is the new implementation's subject prefix (default
	// [DefaultNewPrefix]); SubjectPrefix the runtime prefix both sides
	// share, if any (the new implementation then serves under
	// NewPrefix.SubjectPrefix).
	NewPrefix, SubjectPrefix string
	// Methods narrows the cutover to these methods (names, e.g.
	// "GetQuest"); empty takes every method that can be mapped.
	Methods []string
}

// MethodMapping is one method's weighted mapping.
type MethodMapping struct {
	// Method is the method's name; Subject the public subject callers
	// use; New the subject the new implementation serves.
	Method, Subject, New string
}

// Plan is a cutover's mappings and the methods left out, with why.
type Plan struct {
	Cutover  Cutover
	Mappings []MethodMapping
	Skipped  []string
}

// Plan works out the mappings: one per unary method and plain event (both
// sides serve them); streams (the bridge serves none) and durable events
// (JetStream checks the stream a publish lands in, and the mapped subject
// is another stream's) are left out with the reason.
func (c Cutover) Plan() (*Plan, error) {
	if c.Service == nil {
		return nil, errors.New("cutover: no service")
	}
	if c.Percent < 0 || c.Percent > 100 {
		return nil, fmt.Errorf("--percent %d: the share of calls sent to the new implementation, a whole number from 0 to 100", c.Percent)
	}
	if c.NewPrefix == "" {
		c.NewPrefix = DefaultNewPrefix
	}
	if err := spec.ValidateSubject(c.NewPrefix); err != nil {
		return nil, fmt.Errorf("--new-prefix %q: %w", c.NewPrefix, err)
	}
	if c.SubjectPrefix != "" {
		if err := spec.ValidateSubject(c.SubjectPrefix); err != nil {
			return nil, fmt.Errorf("--subject-prefix %q: %w", c.SubjectPrefix, err)
		}
	}
	sp, err := spec.ForService(c.Service)
	if err != nil {
		return nil, err
	}
	for _, name := range c.Methods {
		if !slices.ContainsFunc(sp.Methods, func(m *spec.Method) bool { return m.Name == name }) {
			return nil, fmt.Errorf("--method %q: %s has no such method", name, sp.FullName)
		}
	}
	p := &Plan{Cutover: c}
	for _, m := range sp.Methods {
		if m.Skip || (len(c.Methods) > 0 && !slices.Contains(c.Methods, m.Name)) {
			continue
		}
		switch {
		case m.Kind == spec.KindEvent && m.Durable != nil:
			p.Skipped = append(p.Skipped, m.Name+": a durable event (JetStream stores it under its public subject; move its consumer instead)")
			continue
		case m.Kind != spec.KindUnary && m.Kind != spec.KindEvent:
			p.Skipped = append(p.Skipped, fmt.Sprintf("%s: a %s (the bridge serves no streams: serve it from the new implementation on the public subject)", m.Name, natsrpc.MethodKind(m.Kind)))
			continue
		}
		subject := m.Subject
		if c.SubjectPrefix != "" {
			subject = c.SubjectPrefix + "." + subject
		}
		p.Mappings = append(p.Mappings, MethodMapping{Method: m.Name, Subject: subject, New: c.NewPrefix + "." + subject})
	}
	if len(p.Mappings) == 0 {
		return nil, fmt.Errorf("cutover: %s has no method that can be mapped (%s)", sp.FullName, strings.Join(p.Skipped, "; "))
	}
	return p, nil
}

// Config writes the nats-server configuration block of the plan: a
// mappings block with, per method, the new implementation's subject at the
// plan's weight and the public subject at the rest, with comments saying
// where it goes.
func (p *Plan) Config() string {
	var b strings.Builder
	c := p.Cutover
	full := string(c.Service.FullName())
	fmt.Fprintf(&b, "# natsrpc cutover of %s: %d%% of its calls to the new implementation\n", full, c.Percent)
	fmt.Fprintf(&b, "# (serving under the subject prefix %q), %d%% to the bridge on the public subjects.\n", prefixOf(c), 100-c.Percent)
	b.WriteString("# Put it in the configuration of every server of the cluster (inside the\n")
	b.WriteString("# account's block when accounts are configured), then: nats-server --signal reload\n")
	for _, s := range p.Skipped {
		fmt.Fprintf(&b, "# not mapped: %s\n", s)
	}
	b.WriteString("mappings = {\n")
	for _, m := range p.Mappings {
		fmt.Fprintf(&b, "  %q: [\n", m.Subject)
		fmt.Fprintf(&b, "    {destination: %q, weight: %d%%}\n", m.New, c.Percent)
		fmt.Fprintf(&b, "    {destination: %q, weight: %d%%}\n", m.Subject, 100-c.Percent)
		b.WriteString("  ]\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func prefixOf(c Cutover) string {
	if c.SubjectPrefix != "" {
		return c.NewPrefix + "." + c.SubjectPrefix
	}
	return c.NewPrefix
}
