package breaking

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Direction says who must be able to read data across a schema change.
type Direction int

const (
	// DirectionBackward requires the new schema to read data written with
	// the old one: consumers upgrade first. It is buf's (and Confluent's
	// BACKWARD) direction.
	DirectionBackward Direction = iota + 1
	// DirectionForward requires the old schema to read data written with
	// the new one: producers upgrade first.
	DirectionForward
	// DirectionFull requires both.
	DirectionFull
)

// String returns "backward" (also for the zero value, which means it),
// "forward" or "full".
func (d Direction) String() string {
	switch d {
	case 0, DirectionBackward:
		return "backward"
	case DirectionForward:
		return "forward"
	case DirectionFull:
		return "full"
	default:
		return fmt.Sprintf("direction(%d)", int(d))
	}
}

// ParseDirection parses "backward", "forward" or "full" (any case).
func ParseDirection(s string) (Direction, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "backward":
		return DirectionBackward, nil
	case "forward":
		return DirectionForward, nil
	case "full":
		return DirectionFull, nil
	}
	return 0, fmt.Errorf("unknown direction %q; use backward, forward or full", s)
}

// Policy is a compatibility policy for a sequence of schema versions, such
// as the schema registry keeps per module.
type Policy struct {
	// Categories are the buf categories (or rule IDs) whose rules apply:
	// WIRE_JSON when empty. WIRE_JSON and WIRE are the ones that describe
	// readers; FILE, PACKAGE and CSR are accepted too.
	Categories []string
	// Except removes rules or categories.
	Except []string
	// Direction is backward when zero.
	Direction Direction
	// Transitive checks a new version against every earlier version
	// instead of only the latest.
	Transitive bool
	// NATSRPC adds the NATSRPC rules (subjects, kinds, queue groups).
	NATSRPC bool
	// IgnoreUnstablePackages drops findings in alpha, beta and test
	// packages.
	IgnoreUnstablePackages bool
}

// DefaultPolicy is the registry's default: backward WIRE_JSON against the
// latest version, with the NATSRPC rules.
func DefaultPolicy() Policy {
	return Policy{Categories: []string{CategoryWireJSON}, Direction: DirectionBackward, NATSRPC: true}
}

// forwardExcluded are the rules left out of the forward pass. They report
// deletions; with the roles swapped they would report additions (a new
// field, enum value, message or RPC, or a new reserved range), which old
// readers tolerate: binary decoders keep unknown fields and enum numbers,
// and JSON decoders do when they discard unknown fields.
var forwardExcluded = map[string]bool{
	"ENUM_NO_DELETE":                              true,
	"ENUM_VALUE_NO_DELETE":                        true,
	"ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED":   true,
	"ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED": true,
	"EXTENSION_MESSAGE_NO_DELETE":                 true,
	"EXTENSION_NO_DELETE":                         true,
	"FIELD_NO_DELETE":                             true,
	"FIELD_NO_DELETE_UNLESS_NAME_RESERVED":        true,
	"FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED":      true,
	"FILE_NO_DELETE":                              true,
	"MESSAGE_NO_DELETE":                           true,
	"ONEOF_NO_DELETE":                             true,
	"PACKAGE_ENUM_NO_DELETE":                      true,
	"PACKAGE_EXTENSION_NO_DELETE":                 true,
	"PACKAGE_MESSAGE_NO_DELETE":                   true,
	"PACKAGE_NO_DELETE":                           true,
	"PACKAGE_SERVICE_NO_DELETE":                   true,
	"RESERVED_ENUM_NO_DELETE":                     true,
	"RESERVED_MESSAGE_NO_DELETE":                  true,
	"RPC_NO_DELETE":                               true,
	"SERVICE_NO_DELETE":                           true,
}

// PolicyRuleSet is the exact set of rules a [Policy] runs.
type PolicyRuleSet struct {
	// Backward rules run with the old version as previous and the new one
	// as current: findings mean the new schema cannot read old data.
	Backward []string
	// Forward rules run with the roles swapped: findings mean the old
	// schema cannot read new data. They are the backward rules without
	// the deletion rules (see the package README).
	Forward []string
	// NATSRPC rules run old to new in every direction: a changed subject,
	// kind or queue group breaks callers whichever side upgrades first.
	NATSRPC []string
}

// Rules returns the rules p runs in each direction.
func (p Policy) Rules() (PolicyRuleSet, error) {
	base := p.Categories
	if len(base) == 0 {
		base = []string{CategoryWireJSON}
	}
	ids, err := ResolveRuleIDs(Config{Version: VersionV2, Use: base, Except: p.Except})
	if err != nil {
		return PolicyRuleSet{}, err
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return strings.HasPrefix(id, "NATSRPC_") })
	var fwd []string
	for _, id := range ids {
		if !forwardExcluded[id] {
			fwd = append(fwd, id)
		}
	}
	var rs PolicyRuleSet
	switch p.Direction {
	case 0, DirectionBackward:
		rs.Backward = ids
	case DirectionForward:
		rs.Forward = fwd
	case DirectionFull:
		rs.Backward, rs.Forward = ids, fwd
	default:
		return PolicyRuleSet{}, fmt.Errorf("unknown direction %d", int(p.Direction))
	}
	if p.NATSRPC {
		rs.NATSRPC = natsrpcRuleIDs()
	}
	return rs, nil
}

// PolicyViolation is a violation of a [Policy].
type PolicyViolation struct {
	Violation
	// Direction is DirectionBackward when the new schema cannot read data
	// written with the old one (the violation points into the new
	// schema); DirectionForward when the old schema cannot read data
	// written with the new one (the violation points into the old schema
	// and its message reads from new to old); DirectionFull for NATSRPC
	// findings, which break callers in both directions.
	Direction Direction
	// Against is the index in the history of the version the candidate
	// was compared with.
	Against int
}

// CheckPolicy checks a candidate version against the history of earlier
// versions (oldest first) under p: against the latest one, or against
// every one when p.Transitive is set. An empty history accepts anything.
func CheckPolicy(ctx context.Context, p Policy, history []Image, candidate Image) (_ []PolicyViolation, retErr error) {
	defer recoverInternal(&retErr)
	rs, err := p.Rules()
	if err != nil {
		return nil, err
	}
	if len(history) == 0 {
		return nil, nil
	}
	from := len(history) - 1
	if p.Transitive {
		from = 0
	}
	var out []PolicyViolation
	run := func(prev, cur Image, ids []string, dir Direction, against int) error {
		if len(ids) == 0 {
			return nil
		}
		vs, err := checkWithRules(ctx, prev, cur, ids, p.IgnoreUnstablePackages)
		if err != nil {
			return fmt.Errorf("against version %d: %w", against, err)
		}
		for _, v := range vs {
			out = append(out, PolicyViolation{Violation: v, Direction: dir, Against: against})
		}
		return nil
	}
	for i := from; i < len(history); i++ {
		oldToNew := append(slices.Clone(rs.Backward), rs.NATSRPC...)
		if err := run(history[i], candidate, oldToNew, DirectionBackward, i); err != nil {
			return nil, err
		}
		if err := run(candidate, history[i], rs.Forward, DirectionForward, i); err != nil {
			return nil, err
		}
	}
	for i := range out {
		if strings.HasPrefix(out[i].RuleID, "NATSRPC_") {
			out[i].Direction = DirectionFull
		}
	}
	return out, nil
}

// checkWithRules runs exactly the given rules.
func checkWithRules(ctx context.Context, previous, current Image, ids []string, ignoreUnstable bool) ([]Violation, error) {
	rc := &resolvedConfig{version: VersionV2, ruleIDs: map[string]bool{}, ignoreUnstable: ignoreUnstable}
	for _, id := range ids {
		rc.ruleIDs[id] = true
	}
	return checkSides(ctx, previous, current, "previous", "current", rc)
}
