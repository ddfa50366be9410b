package httprule

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc"
)

// Config is a rules file: its HTTP rules and natsrpc's extension, a
// top-level natsrpc key with two lists, both optional:
//
//	natsrpc:
//	  bridge:                      # natsrpc bridge: per-method HTTP status overrides
//	  - selector: gaming.quest_system.v1.QuestSystemService.GetQuest
//	    status:
//	      404: failed_precondition # this service answers 404 for a locked quest
//	      410: not_found
//	  shadow:                      # natsrpc bridge --shadow-prefix: per-method shadow policies
//	  - selector: gaming.quest_system.v1.QuestSystemService.GetQuest
//	    rate: 0.5
//	    ignore: [quest.updated_at]
//	    unordered: [quest.quest.objectives]
//
// Selectors are as in HTTP rules: a method's full name, or a prefix of
// whole components ending in "*". A file may hold the natsrpc key alone.
type Config struct {
	// Rules are the HTTP rules (http: rules:).
	Rules []*annotations.HttpRule
	// Bridge are natsrpc.bridge's entries, in file order.
	Bridge []*BridgeRule
	// Shadow are natsrpc.shadow's entries, in file order.
	Shadow []*ShadowRule
}

// BridgeRule overrides how the bridge maps HTTP statuses onto natsrpc
// codes for the methods its selector matches.
type BridgeRule struct {
	Selector string
	// Status maps an HTTP error status (400 to 599) to a natsrpc code
	// (1 to 16, written by name: not_found, unavailable, ...).
	Status map[int]natsrpc.Code
	// Line is the entry's line in the file.
	Line int
}

// ShadowRule is the shadow policy of the methods its selector matches
// (natsrpc.ShadowMethod).
type ShadowRule struct {
	Selector string
	// Rate is the share of calls mirrored, 0 to 1.
	Rate float64
	// Ignore and Unordered are dotted field paths of the response.
	Ignore, Unordered []string
	// Line is the entry's line in the file.
	Line int
}

// Specificity orders selectors: a method's full name beats any
// wildcard, and a longer wildcard prefix beats a shorter one.
func Specificity(selector string) int {
	if !strings.HasSuffix(selector, "*") {
		return math.MaxInt
	}
	return len(selector) - 1
}

// StatusOverrides returns the status overrides of the method named full:
// for each status, the entry with the most specific selector that sets
// it.
func (c *Config) StatusOverrides(full protoreflect.FullName) map[int]natsrpc.Code {
	var out map[int]natsrpc.Code
	spec := map[int]int{}
	for _, r := range c.Bridge {
		if !Matches(r.Selector, full) {
			continue
		}
		s := Specificity(r.Selector)
		for status, code := range r.Status {
			if prev, ok := spec[status]; ok && prev >= s {
				continue
			}
			if out == nil {
				out = map[int]natsrpc.Code{}
			}
			out[status], spec[status] = code, s
		}
	}
	return out
}

// ShadowFor returns the shadow entry of the method named full with the
// most specific selector, or nil.
func (c *Config) ShadowFor(full protoreflect.FullName) *ShadowRule {
	var best *ShadowRule
	for _, r := range c.Shadow {
		if Matches(r.Selector, full) && (best == nil || Specificity(r.Selector) > Specificity(best.Selector)) {
			best = r
		}
	}
	return best
}

// parseExtension reads the natsrpc key into cfg.
func parseExtension(n *yaml.Node, cfg *Config) error {
	if n.Kind != yaml.MappingNode {
		return nodeErr(n, "natsrpc must be a mapping with bridge and shadow lists")
	}
	return eachKey(n, func(key string, k, v *yaml.Node) error {
		switch key {
		case "bridge":
			return eachEntry(v, key, func(e *yaml.Node) error {
				r, err := parseBridgeRule(e)
				if err == nil {
					cfg.Bridge = append(cfg.Bridge, r)
				}
				return err
			})
		case "shadow":
			return eachEntry(v, key, func(e *yaml.Node) error {
				r, err := parseShadowRule(e)
				if err == nil {
					cfg.Shadow = append(cfg.Shadow, r)
				}
				return err
			})
		default:
			return nodeErr(k, fmt.Sprintf("unknown key %q under natsrpc: only bridge and shadow", key))
		}
	})
}

// eachEntry calls fn for each entry of list n, refusing two entries with
// one selector.
func eachEntry(n *yaml.Node, key string, fn func(*yaml.Node) error) error {
	if n.Kind != yaml.SequenceNode {
		return nodeErr(n, fmt.Sprintf("natsrpc.%s must be a list of entries, each with a selector", key))
	}
	seen := map[string]int{}
	for _, e := range n.Content {
		if e.Kind != yaml.MappingNode {
			return nodeErr(e, fmt.Sprintf("an entry of natsrpc.%s must be a mapping with a selector", key))
		}
		for i := 0; i+1 < len(e.Content); i += 2 {
			if e.Content[i].Value == "selector" && e.Content[i+1].Kind == yaml.ScalarNode {
				sel := e.Content[i+1].Value
				if line, ok := seen[sel]; ok {
					return nodeErr(e.Content[i+1], fmt.Sprintf("selector %q already has an entry in natsrpc.%s (line %d): merge them", sel, key, line))
				}
				seen[sel] = e.Content[i+1].Line
			}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func parseSelector(v *yaml.Node) (string, error) {
	s, err := scalar(v, "selector")
	if err != nil {
		return "", err
	}
	if err := checkSelector(s); err != nil {
		return "", nodeErr(v, fmt.Sprintf("selector %q: %v", s, err))
	}
	return s, nil
}

func parseBridgeRule(n *yaml.Node) (*BridgeRule, error) {
	r := &BridgeRule{Line: n.Line}
	err := eachKey(n, func(key string, k, v *yaml.Node) error {
		switch key {
		case "selector":
			s, err := parseSelector(v)
			r.Selector = s
			return err
		case "status":
			if v.Kind != yaml.MappingNode || len(v.Content) == 0 {
				return nodeErr(v, "status must be a mapping of HTTP statuses to natsrpc codes, e.g. status: {404: failed_precondition}")
			}
			r.Status = map[int]natsrpc.Code{}
			return eachKey(v, func(sk string, kn, cv *yaml.Node) error {
				status, err := strconv.Atoi(sk)
				if err != nil || status < 400 || status > 599 || strconv.Itoa(status) != sk {
					return nodeErr(kn, fmt.Sprintf("status %q: override an HTTP error status, 400 to 599 (2xx answers are successes)", sk))
				}
				name, err := scalar(cv, sk)
				if err != nil {
					return err
				}
				var code natsrpc.Code
				if err := code.UnmarshalText([]byte(name)); err != nil || code < natsrpc.CodeCanceled || code > natsrpc.CodeUnauthenticated {
					return nodeErr(cv, fmt.Sprintf("status %d: %q is not a natsrpc error code: use one of %s", status, name, strings.Join(errorCodeNames(), ", ")))
				}
				r.Status[status] = code
				return nil
			})
		default:
			return nodeErr(k, fmt.Sprintf("unknown key %q in a natsrpc.bridge entry: use selector and status", key))
		}
	})
	if err != nil {
		return nil, err
	}
	if r.Selector == "" {
		return nil, nodeErr(n, "the natsrpc.bridge entry has no selector: name the method, e.g. selector: pkg.Service.Method")
	}
	if r.Status == nil {
		return nil, nodeErr(n, "the natsrpc.bridge entry has no status overrides: write status: {404: failed_precondition}")
	}
	return r, nil
}

func errorCodeNames() []string {
	var out []string
	for c := natsrpc.CodeCanceled; c <= natsrpc.CodeUnauthenticated; c++ {
		out = append(out, c.String())
	}
	return out
}

func parseShadowRule(n *yaml.Node) (*ShadowRule, error) {
	r := &ShadowRule{Line: n.Line}
	rateSet := false
	err := eachKey(n, func(key string, k, v *yaml.Node) error {
		switch key {
		case "selector":
			s, err := parseSelector(v)
			r.Selector = s
			return err
		case "rate":
			s, err := scalar(v, key)
			if err != nil {
				return err
			}
			f, perr := strconv.ParseFloat(s, 64)
			if perr != nil || !(f >= 0 && f <= 1) {
				return nodeErr(v, fmt.Sprintf("rate %q: the share of calls mirrored, a number from 0 to 1 (0.1 mirrors one call in ten)", s))
			}
			r.Rate, rateSet = f, true
		case "ignore", "unordered":
			paths, err := fieldPaths(v, key)
			if err != nil {
				return err
			}
			if key == "ignore" {
				r.Ignore = paths
			} else {
				r.Unordered = paths
			}
		default:
			return nodeErr(k, fmt.Sprintf("unknown key %q in a natsrpc.shadow entry: use selector, rate, ignore and unordered", key))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.Selector == "" {
		return nil, nodeErr(n, "the natsrpc.shadow entry has no selector: name the method, e.g. selector: pkg.Service.Method")
	}
	if !rateSet {
		return nil, nodeErr(n, "the natsrpc.shadow entry has no rate: write rate: 0.1 to mirror one call in ten (0 never mirrors)")
	}
	return r, nil
}

// fieldPaths reads a list of dotted field paths.
func fieldPaths(v *yaml.Node, key string) ([]string, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, nodeErr(v, fmt.Sprintf("%s must be a list of field paths of the response, e.g. [quest.created_at]", key))
	}
	var out []string
	for _, e := range v.Content {
		s, err := scalar(e, key)
		if err != nil {
			return nil, err
		}
		for _, part := range strings.Split(s, ".") {
			if !isIdent(part) {
				return nil, nodeErr(e, fmt.Sprintf("%s %q: a path is field names joined by dots, e.g. quest.created_at", key, s))
			}
		}
		if slices.Contains(out, s) {
			return nil, nodeErr(e, fmt.Sprintf("%s %q is listed twice", key, s))
		}
		out = append(out, s)
	}
	return out, nil
}
