// Package httprule reads HTTP rules: how a protobuf method is reached as a
// REST route, in the format of Google's service configuration (the format
// grpc-gateway and Envoy's transcoder read), and checks them against
// descriptors.
//
//	type: google.api.Service
//	config_version: 3
//	http:
//	  rules:
//	  - selector: gaming.quest_system.v1.QuestSystemService.GetQuest
//	    get: /v1/players/{player_id}/quests/{quest_id}
//	  - selector: gaming.quest_system.v1.QuestSystemService.GenerateQuest
//	    post: /v1/players/{player_id}/quests
//	    body: "*"
//
// The gateway serves REST routes from such a file (--http-rules) for
// schemas without google.api.http annotations, and the bridge calls HTTP
// services by the same rules. Reading is strict: an unknown key, a rule
// with no pattern or two, a bad path template or a selector that is not a
// method name is an error that names the line and says what to write
// instead, never a rule silently dropped.
//
// natsrpc extends the format with one top-level key, natsrpc, for what
// the bridge needs beyond routes (see [Config]): per-method HTTP status
// overrides and shadow traffic policies. The gateway reads and checks the
// key and otherwise ignores it. Other readers of service configurations
// do not know it: give them a copy without it.
package httprule

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/genproto/googleapis/api/annotations"
)

// MaxFileBytes bounds a rules file.
const MaxFileBytes = 4 << 20

// Error is a problem in a rules file, at a line.
type Error struct {
	// File is the file's name, when read from a file.
	File string
	// Line is the 1-based line of the offending node; 0 when unknown.
	Line int
	// Problem says what is wrong and how to fix it.
	Problem string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Load reads the rules file at path.
func Load(path string) ([]*annotations.HttpRule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("http rules: %w", err)
	}
	rules, err := Parse(data)
	var e *Error
	if errors.As(err, &e) {
		e.File = path
	}
	return rules, err
}

// Parse reads a service configuration's HTTP rules from data (YAML, or
// JSON, which is YAML too). Keys are snake_case as Google writes them;
// lowerCamelCase is accepted as protojson would. Each rule is checked on
// its own (selector, exactly one pattern, valid templates, body and
// response_body names); [Check] checks rules against descriptors. The
// natsrpc extension is checked as [ParseConfig] checks it, and left out.
func Parse(data []byte) ([]*annotations.HttpRule, error) {
	c, err := ParseConfig(data)
	if err != nil {
		return nil, err
	}
	return c.Rules, nil
}

// LoadConfig reads the rules file at path, natsrpc's extension included.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("http rules: %w", err)
	}
	c, err := ParseConfig(data)
	var e *Error
	if errors.As(err, &e) {
		e.File = path
	}
	return c, err
}

// ParseConfig reads a rules file: its HTTP rules, as [Parse] does, and
// natsrpc's extension, strictly (see [Config]).
func ParseConfig(data []byte) (*Config, error) {
	if len(data) > MaxFileBytes {
		return nil, &Error{Problem: fmt.Sprintf("the file is %d bytes; rules files are at most %d", len(data), MaxFileBytes)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, errEOF) {
			return nil, &Error{Problem: "the file is empty; write http: rules: - selector: ... get: ..."}
		}
		return nil, &Error{Problem: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{Line: extra.Line, Problem: "a second YAML document; put every rule in one document"}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{Problem: "the file is empty; write http: rules: - selector: ... get: ..."}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nodeErr(root, "the file must be a mapping with an http key (a google.api.Service configuration)")
	}
	var httpNode, extNode *yaml.Node
	err := eachKey(root, func(key string, k, v *yaml.Node) error {
		switch key {
		case "type":
			if s, err := scalar(v, key); err != nil {
				return err
			} else if s != "google.api.Service" {
				return nodeErr(v, fmt.Sprintf("type is %q; a service configuration's type is google.api.Service", s))
			}
		case "config_version", "configVersion":
			if s, err := scalar(v, key); err != nil {
				return err
			} else if s != "3" {
				return nodeErr(v, fmt.Sprintf("config_version is %q; only 3 is understood", s))
			}
		case "name", "title":
			if _, err := scalar(v, key); err != nil {
				return err
			}
		case "http":
			httpNode = v
		case "natsrpc":
			extNode = v
		default:
			return nodeErr(k, fmt.Sprintf("unknown key %q: a rules file is read for type, config_version, name, title, http and natsrpc only", key))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	if extNode != nil {
		if err := parseExtension(extNode, cfg); err != nil {
			return nil, err
		}
		if httpNode == nil {
			return cfg, nil // a file of natsrpc settings only
		}
	}
	if httpNode == nil {
		return nil, nodeErr(root, "no http key: write http: rules: - selector: ... get: ...")
	}
	if httpNode.Kind != yaml.MappingNode {
		return nil, nodeErr(httpNode, "http must be a mapping with a rules list")
	}
	var rulesNode *yaml.Node
	err = eachKey(httpNode, func(key string, k, v *yaml.Node) error {
		switch key {
		case "rules":
			rulesNode = v
		case "fully_decode_reserved_expansion", "fullyDecodeReservedExpansion":
			if _, err := boolean(v, key); err != nil {
				return err
			}
		default:
			return nodeErr(k, fmt.Sprintf("unknown key %q under http: only rules and fully_decode_reserved_expansion", key))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rulesNode == nil || rulesNode.Kind != yaml.SequenceNode {
		return nil, nodeErr(httpNode, "http needs rules: a list of rules, each with a selector and one of get, put, post, delete, patch or custom")
	}
	for _, n := range rulesNode.Content {
		r, err := parseRule(n, true)
		if err != nil {
			return nil, err
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	return cfg, nil
}

// errEOF is what the YAML decoder returns for an empty document.
var errEOF = func() error {
	var n yaml.Node
	return yaml.NewDecoder(bytes.NewReader(nil)).Decode(&n)
}()

func parseRule(n *yaml.Node, top bool) (*annotations.HttpRule, error) {
	if n.Kind != yaml.MappingNode {
		return nil, nodeErr(n, "a rule must be a mapping: selector, a pattern (get, put, post, delete, patch or custom), body, response_body, additional_bindings")
	}
	r := &annotations.HttpRule{}
	patterns := 0
	var patternNode *yaml.Node
	setPattern := func(v *yaml.Node, key string, set func(string)) error {
		s, err := scalar(v, key)
		if err != nil {
			return err
		}
		if _, err := ParseTemplate(s); err != nil {
			return nodeErr(v, fmt.Sprintf("%s %q: %v", key, s, err))
		}
		patterns++
		patternNode = v
		set(s)
		return nil
	}
	var bindings *yaml.Node
	err := eachKey(n, func(key string, k, v *yaml.Node) error {
		switch key {
		case "selector":
			if !top {
				return nodeErr(k, "an additional binding has no selector: it belongs to its rule's method")
			}
			s, err := scalar(v, key)
			if err != nil {
				return err
			}
			if err := checkSelector(s); err != nil {
				return nodeErr(v, fmt.Sprintf("selector %q: %v", s, err))
			}
			r.Selector = s
		case "get":
			return setPattern(v, key, func(s string) { r.Pattern = &annotations.HttpRule_Get{Get: s} })
		case "put":
			return setPattern(v, key, func(s string) { r.Pattern = &annotations.HttpRule_Put{Put: s} })
		case "post":
			return setPattern(v, key, func(s string) { r.Pattern = &annotations.HttpRule_Post{Post: s} })
		case "delete":
			return setPattern(v, key, func(s string) { r.Pattern = &annotations.HttpRule_Delete{Delete: s} })
		case "patch":
			return setPattern(v, key, func(s string) { r.Pattern = &annotations.HttpRule_Patch{Patch: s} })
		case "custom":
			c, err := parseCustom(v)
			if err != nil {
				return err
			}
			patterns++
			patternNode = v
			r.Pattern = &annotations.HttpRule_Custom{Custom: c}
		case "body":
			s, err := scalar(v, key)
			if err != nil {
				return err
			}
			if s != "*" && !isFieldName(s) {
				return nodeErr(v, fmt.Sprintf("body %q: name a top-level field of the request, or \"*\" for the whole request", s))
			}
			r.Body = s
		case "response_body", "responseBody":
			s, err := scalar(v, key)
			if err != nil {
				return err
			}
			if !isFieldName(s) {
				return nodeErr(v, fmt.Sprintf("response_body %q: name a top-level field of the response (leave it out for the whole response)", s))
			}
			r.ResponseBody = s
		case "additional_bindings", "additionalBindings":
			if !top {
				return nodeErr(k, "additional bindings cannot nest: list them all on the rule itself")
			}
			bindings = v
		default:
			return nodeErr(k, fmt.Sprintf("unknown key %q in a rule: use selector, get, put, post, delete, patch, custom, body, response_body or additional_bindings", key))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if top && r.Selector == "" {
		return nil, nodeErr(n, "the rule has no selector: name the method, e.g. selector: pkg.Service.Method")
	}
	switch {
	case patterns == 0:
		return nil, nodeErr(n, "the rule has no pattern: give one of get, put, post, delete, patch or custom")
	case patterns > 1:
		return nil, nodeErr(patternNode, "the rule has more than one pattern: give exactly one of get, put, post, delete, patch or custom (more routes go in additional_bindings)")
	}
	if r.Body != "" {
		if _, ok := r.Pattern.(*annotations.HttpRule_Get); ok {
			return nil, nodeErr(n, "a GET rule has no body: remove body, or use post, put or patch")
		}
		if _, ok := r.Pattern.(*annotations.HttpRule_Delete); ok {
			return nil, nodeErr(n, "a DELETE rule has no body: remove body, or use post, put or patch")
		}
	}
	if bindings != nil {
		if bindings.Kind != yaml.SequenceNode {
			return nil, nodeErr(bindings, "additional_bindings must be a list of bindings")
		}
		for _, b := range bindings.Content {
			ab, err := parseRule(b, false)
			if err != nil {
				return nil, err
			}
			r.AdditionalBindings = append(r.AdditionalBindings, ab)
		}
	}
	return r, nil
}

func parseCustom(n *yaml.Node) (*annotations.CustomHttpPattern, error) {
	if n.Kind != yaml.MappingNode {
		return nil, nodeErr(n, "custom must be a mapping with kind and path, e.g. custom: {kind: HEAD, path: /v1/items}")
	}
	c := &annotations.CustomHttpPattern{}
	err := eachKey(n, func(key string, k, v *yaml.Node) error {
		s, err := scalar(v, key)
		if err != nil {
			return err
		}
		switch key {
		case "kind":
			if s == "" || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
				return nodeErr(v, fmt.Sprintf("custom kind %q: an HTTP method in capitals, e.g. HEAD or OPTIONS", s))
			}
			c.Kind = s
		case "path":
			if _, err := ParseTemplate(s); err != nil {
				return nodeErr(v, fmt.Sprintf("custom path %q: %v", s, err))
			}
			c.Path = s
		default:
			return nodeErr(k, fmt.Sprintf("unknown key %q in custom: use kind and path", key))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c.Kind == "" || c.Path == "" {
		return nil, nodeErr(n, "custom needs both kind and path")
	}
	return c, nil
}

// checkSelector checks a selector: a method's full name, or a prefix of
// whole name components ending with "*" ("pkg.Service.*"), or "*".
func checkSelector(s string) error {
	name := s
	if strings.HasSuffix(s, "*") {
		name = strings.TrimSuffix(s, "*")
		if name == "" {
			return nil
		}
		if !strings.HasSuffix(name, ".") {
			return errors.New("a wildcard replaces whole name components: write pkg.Service.* ")
		}
		name = strings.TrimSuffix(name, ".")
	}
	if name == "" {
		return errors.New("empty: name the method, e.g. pkg.Service.Method")
	}
	for _, part := range strings.Split(name, ".") {
		if !isIdent(part) {
			return fmt.Errorf("%q is not a protobuf name component (letters, digits and underscores, not starting with a digit)", part)
		}
	}
	return nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func isFieldName(s string) bool { return isIdent(s) }

// eachKey calls fn for every key of mapping n, refusing duplicate keys.
func eachKey(n *yaml.Node, fn func(key string, k, v *yaml.Node) error) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nodeErr(k, "keys must be plain names")
		}
		canon := canonicalKey(k.Value)
		if seen[canon] {
			return nodeErr(k, fmt.Sprintf("key %q is given twice", k.Value))
		}
		seen[canon] = true
		if err := fn(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

// canonicalKey folds lowerCamelCase keys onto snake_case, so that
// response_body and responseBody count as one key.
func canonicalKey(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'A' && c <= 'Z' {
			b.WriteByte('_')
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func scalar(v *yaml.Node, key string) (string, error) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return "", nodeErr(v, fmt.Sprintf("%s must be a single value", key))
	}
	return v.Value, nil
}

func boolean(v *yaml.Node, key string) (bool, error) {
	s, err := scalar(v, key)
	if err != nil {
		return false, err
	}
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, nodeErr(v, fmt.Sprintf("%s must be true or false, not %q", key, s))
}

func nodeErr(n *yaml.Node, problem string) *Error {
	return &Error{Line: n.Line, Problem: problem}
}
