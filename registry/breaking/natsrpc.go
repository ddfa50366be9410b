package breaking

import (
	"fmt"
	"slices"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// The NATSRPC rules compare how methods travel over NATS, as natsrpc's
// generated code and runtime derive it (package internal/spec): the
// effective subject, the kind (unary, server, client or bidi stream,
// event) and the queue group. A client built from the previous schema
// keeps publishing to the previous subject, so changing any of these
// breaks running clients even when the protobuf types are unchanged.

func init() {
	ruleFuncs[RuleNATSRPCSubjectNoChange] = ruleNATSRPCSubjectNoChange
	ruleFuncs[RuleNATSRPCKindNoChange] = ruleNATSRPCKindNoChange
	ruleFuncs[RuleNATSRPCQueueGroupNoChange] = ruleNATSRPCQueueGroupNoChange
	ruleFuncs[RuleNATSRPCSubjectNoDelete] = ruleNATSRPCSubjectNoDelete
}

// natsMethod is one method's NATS mapping with its model element.
type natsMethod struct {
	m    *method
	spec *spec.Method
}

// natsMethods derives the NATS mapping of every method of a side, keyed by
// "<service full name>/<method>". Services whose natsrpc options are
// invalid fail the check for the current side's targets (the plugin would
// refuse them too) and are skipped for the previous side and for imports:
// an import is generated, checked and pushed with the module that owns it,
// so its options must not fail the check of a module that only imports it.
func (s *side) natsMethods(strict bool) (map[string]*natsMethod, error) {
	if s.nats != nil {
		return s.nats, nil
	}
	out := map[string]*natsMethod{}
	for _, f := range s.files {
		for _, sv := range f.services {
			ss, err := spec.ForService(sv.sd)
			if err != nil {
				if strict && !f.imp {
					return nil, fmt.Errorf("invalid natsrpc options: %w", err)
				}
				continue
			}
			for i, sm := range ss.Methods {
				if i >= len(sv.methods) {
					break
				}
				out[sv.full+"/"+sv.methods[i].name] = &natsMethod{m: sv.methods[i], spec: sm}
			}
		}
	}
	s.nats = out
	return out, nil
}

// natsPairs calls fn for every previous method still present, both served
// (not skipped).
func (c *checker) natsPairs(fn func(cur, prev *natsMethod)) error {
	prev, err := c.prev.natsMethods(false)
	if err != nil {
		return err
	}
	cur, err := c.cur.natsMethods(true)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(prev) {
		p, ok := cur[k]
		if !ok || prev[k].spec.Skip || p.spec.Skip {
			continue
		}
		fn(p, prev[k])
	}
	return nil
}

func ruleNATSRPCSubjectNoChange(c *checker) error {
	return c.natsPairs(func(cm, pm *natsMethod) {
		if pm.spec.Subject != cm.spec.Subject {
			c.add(cm.m.location(), pm.m.location(), cm.m.service.file.path,
				`RPC %q on service %q changed NATS subject from %q to %q.`,
				cm.m.name, cm.m.service.name, pm.spec.Subject, cm.spec.Subject)
		}
	})
}

func ruleNATSRPCKindNoChange(c *checker) error {
	return c.natsPairs(func(cm, pm *natsMethod) {
		if pm.spec.Kind != cm.spec.Kind {
			c.add(cm.m.location(), pm.m.location(), cm.m.service.file.path,
				`RPC %q on service %q changed NATS kind from %q to %q.`,
				cm.m.name, cm.m.service.name, pm.spec.Kind.String(), cm.spec.Kind.String())
		}
	})
}

func queueGroupName(q string) string {
	if q == "" {
		return "(none)"
	}
	return q
}

func ruleNATSRPCQueueGroupNoChange(c *checker) error {
	return c.natsPairs(func(cm, pm *natsMethod) {
		if pm.spec.QueueGroup != cm.spec.QueueGroup {
			c.add(cm.m.location(), pm.m.location(), cm.m.service.file.path,
				`RPC %q on service %q changed NATS queue group from %q to %q.`,
				cm.m.name, cm.m.service.name, queueGroupName(pm.spec.QueueGroup), queueGroupName(cm.spec.QueueGroup))
		}
	})
}

func ruleNATSRPCSubjectNoDelete(c *checker) error {
	prev, err := c.prev.natsMethods(false)
	if err != nil {
		return err
	}
	cur, err := c.cur.natsMethods(true)
	if err != nil {
		return err
	}
	served := map[string]bool{}
	for _, m := range cur {
		if !m.spec.Skip {
			served[m.spec.Subject] = true
		}
	}
	cix, err := c.cur.index()
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(prev) {
		pm := prev[k]
		if pm.spec.Skip || served[pm.spec.Subject] {
			continue
		}
		if cm, ok := cur[k]; ok && !cm.spec.Skip {
			// Still served under another subject: NATSRPC_SUBJECT_NO_CHANGE.
			continue
		}
		var l *loc
		fileName := ""
		if cm, ok := cur[k]; ok {
			l, fileName = cm.m.location(), cm.m.service.file.path
		} else if cs, ok := cix.services[pm.m.service.full]; ok {
			l, fileName = cs.location(), cs.file.path
		} else if cf, ok := c.cur.byPath[pm.m.service.file.path]; ok {
			fileName = cf.path
		}
		reason := "was deleted"
		if cm, ok := cur[k]; ok && cm.spec.Skip {
			reason = "is now skipped"
		}
		c.add(l, pm.m.location(), fileName, `Previously served NATS subject %q of RPC %q on service %q is no longer served: the RPC %s.`,
			pm.spec.Subject, pm.m.name, pm.m.service.name, reason)
	}
	return nil
}

// natsrpcRuleIDs lists the NATSRPC rule IDs, sorted.
func natsrpcRuleIDs() []string {
	var ids []string
	for _, s := range natsrpcRuleSpecs {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}
