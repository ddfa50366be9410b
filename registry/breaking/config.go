package breaking

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Config selects which rules run and which findings are ignored. It is the
// "breaking" section of a buf.yaml, plus natsrpc's own switches.
//
// The zero value runs the default rules (the FILE category) of a v2
// buf.yaml. buf itself uses the v1 rule set when there is no buf.yaml at
// all; [DefaultConfig] returns that.
type Config struct {
	// Version is the buf.yaml version whose rule set applies. Empty means
	// v2.
	Version Version
	// Use lists rule and category IDs to run. Empty means the default
	// rules of the version.
	Use []string
	// Except lists rule and category IDs to leave out.
	Except []string
	// Ignore lists directories and files (import paths, relative to the
	// module) whose findings are dropped.
	Ignore []string
	// IgnoreOnly maps a rule or category ID to the paths whose findings
	// for that rule are dropped.
	IgnoreOnly map[string][]string
	// IgnoreUnstablePackages drops findings in packages whose last
	// component is an alpha, beta or test version, such as v1beta1.
	IgnoreUnstablePackages bool
	// DisableBuiltin turns off every built-in rule (buf's
	// breaking.disable_builtin, meant for check plugins, which natsrpc
	// does not run).
	DisableBuiltin bool
	// Disabled turns the check off entirely, as a buf.yaml does when an
	// ignore path equals the module directory.
	Disabled bool
	// ExcludeImports drops findings in files that are imports rather than
	// targets of the input (buf's --exclude-imports).
	ExcludeImports bool
	// NATSRPC adds natsrpc's NATSRPC rules (subject, kind and queue group
	// of each method) to the selected rules. Off by default so that plain
	// runs stay identical to buf; the registry's policies turn it on.
	NATSRPC bool
}

// DefaultConfig returns the configuration buf uses when an input has no
// buf.yaml: the default rules of the v1 rule set.
func DefaultConfig() Config {
	return Config{Version: VersionV1}
}

func (c Config) version() Version {
	if c.Version == "" {
		return VersionV2
	}
	return c.Version
}

// resolvedConfig is a Config with rule and category IDs expanded.
type resolvedConfig struct {
	version        Version
	ruleIDs        map[string]bool
	ignore         []string
	ignoreOnly     map[string][]string
	ignoreUnstable bool
	excludeImports bool
	disabled       bool
	// deprecated maps the deprecated IDs the configuration names to their
	// replacements, for warnings.
	deprecated map[string][]string
}

// ResolveRuleIDs returns the sorted IDs of the rules that cfg runs, after
// expanding categories and deprecated rules and removing Except.
func ResolveRuleIDs(cfg Config) ([]string, error) {
	rc, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(rc.ruleIDs))
	for id := range rc.ruleIDs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// Warnings returns buf's warnings for cfg: deprecated rules it names and an
// empty rule set.
func Warnings(cfg Config, configName string) []string {
	rc, err := resolve(cfg)
	if err != nil {
		return nil
	}
	if configName == "" {
		configName = "buf.yaml"
	}
	var out []string
	if len(rc.ruleIDs) == 0 && !rc.disabled {
		out = append(out, "No breaking rules are configured in "+configName+".")
	}
	ids := make([]string, 0, len(rc.deprecated))
	for id := range rc.deprecated {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		repl := rc.deprecated[id]
		var s string
		switch len(repl) {
		case 0:
		case 1:
			s = fmt.Sprintf(" It has been replaced by rule %s.", repl[0])
		default:
			s = fmt.Sprintf(" It has been replaced by rules %s.", strings.Join(repl, ", "))
		}
		out = append(out, fmt.Sprintf("Rule %s referenced in your %s is deprecated.%s As with all buf changes, this change is backwards-compatible: %s will continue to work. We recommend replacing %s in your %s, but no action is immediately necessary.", id, configName, s, id, id, configName))
	}
	return out
}

func resolve(cfg Config) (*resolvedConfig, error) {
	v := cfg.version()
	switch v {
	case VersionV1Beta1, VersionV1, VersionV2:
	default:
		return nil, fmt.Errorf("unknown buf.yaml version %q; use v1beta1, v1 or v2", v)
	}
	rc := &resolvedConfig{
		version:        v,
		ruleIDs:        map[string]bool{},
		ignoreUnstable: cfg.IgnoreUnstablePackages,
		excludeImports: cfg.ExcludeImports,
		disabled:       cfg.Disabled,
		deprecated:     map[string][]string{},
	}
	if cfg.Disabled {
		return rc, nil
	}
	vt := versionTableFor(v)
	rules := vt.rules
	if cfg.DisableBuiltin {
		rules = nil
	}
	catRules, replacements, defaults := vt.catRules, vt.replacements, vt.defaults
	if cfg.DisableBuiltin {
		catRules, replacements, defaults = nil, nil, nil
	}
	natsrpcIDs := map[string]bool{}
	for _, s := range natsrpcRuleSpecs {
		natsrpcIDs[s.ID] = true
	}
	isNATSRPC := func(id string) bool { return id == CategoryNATSRPC || natsrpcIDs[id] }
	expand := func(ids []string) ([]string, error) {
		set := map[string]bool{}
		for _, id := range ids {
			switch {
			case id == "":
			case isNATSRPC(id):
				if id == CategoryNATSRPC {
					for n := range natsrpcIDs {
						set[n] = true
					}
				} else {
					set[id] = true
				}
			case vt.known[id] && !cfg.DisableBuiltin:
				set[id] = true
			case catRules[id] != nil:
				for _, r := range catRules[id] {
					set[r] = true
				}
			default:
				return nil, fmt.Errorf("%q is not a known rule or category ID", id)
			}
		}
		out := make([]string, 0, len(set))
		for id := range set {
			if repl, ok := replacements[id]; ok {
				out = append(out, repl...)
				continue
			}
			out = append(out, id)
		}
		sort.Strings(out)
		return slices.Compact(out), nil
	}
	for _, list := range [][]string{cfg.Use, cfg.Except} {
		for _, id := range list {
			if repl, ok := replacements[id]; ok {
				rc.deprecated[id] = repl
			}
		}
	}
	for id := range cfg.IgnoreOnly {
		if repl, ok := replacements[id]; ok {
			rc.deprecated[id] = repl
		}
	}
	var err error
	if rc.ignore, err = normalizeIgnorePaths(cfg.Ignore); err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		// disable_builtin: only natsrpc's rules may remain.
		if cfg.NATSRPC {
			for id := range natsrpcIDs {
				rc.ruleIDs[id] = true
			}
		}
		return rc, nil
	}
	use := cfg.Use
	if len(slices.DeleteFunc(slices.Clone(use), func(s string) bool { return s == "" })) == 0 {
		use = defaults
	}
	useIDs, err := expand(use)
	if err != nil {
		return nil, err
	}
	exceptIDs, err := expand(cfg.Except)
	if err != nil {
		return nil, err
	}
	for _, id := range useIDs {
		if natsrpcIDs[id] && !cfg.NATSRPC {
			continue
		}
		rc.ruleIDs[id] = true
	}
	if cfg.NATSRPC {
		for id := range natsrpcIDs {
			rc.ruleIDs[id] = true
		}
	}
	for _, id := range exceptIDs {
		delete(rc.ruleIDs, id)
	}
	if len(rc.ruleIDs) == 0 {
		return nil, errors.New("the configuration selects no breaking rules: \"except\" removes every rule of \"use\", or \"use\" names only deprecated no-op rules")
	}
	if len(cfg.IgnoreOnly) > 0 {
		rc.ignoreOnly = map[string][]string{}
		for id, paths := range cfg.IgnoreOnly {
			if id == "" {
				continue
			}
			ids, err := expand([]string{id})
			if err != nil {
				return nil, err
			}
			norm, err := normalizeIgnorePaths(paths)
			if err != nil {
				return nil, err
			}
			for _, rid := range ids {
				rc.ignoreOnly[rid] = append(rc.ignoreOnly[rid], norm...)
			}
		}
	}
	return rc, nil
}

// versionTable is the rule table of one version, indexed.
type versionTable struct {
	rules        []Rule
	known        map[string]bool
	ruleCats     map[string][]string
	catRules     map[string][]string
	replacements map[string][]string
	defaults     []string
}

var versionTables sync.Map // Version -> *versionTable

func versionTableFor(v Version) *versionTable {
	if t, ok := versionTables.Load(v); ok {
		return t.(*versionTable)
	}
	t := &versionTable{
		rules:        Rules(v),
		known:        map[string]bool{},
		ruleCats:     map[string][]string{},
		catRules:     map[string][]string{},
		replacements: map[string][]string{},
	}
	for _, r := range t.rules {
		t.known[r.ID] = true
		t.ruleCats[r.ID] = r.Categories
		for _, c := range r.Categories {
			t.catRules[c] = append(t.catRules[c], r.ID)
		}
		if r.Deprecated {
			t.replacements[r.ID] = r.ReplacementIDs
		}
		if r.Default {
			t.defaults = append(t.defaults, r.ID)
		}
	}
	versionTables.Store(v, t)
	return t
}

func normalizeIgnorePaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		n, err := normalizePath(p)
		if err != nil {
			return nil, err
		}
		if n == "." {
			return nil, fmt.Errorf("cannot specify %q as an ignore path", n)
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

func normalizePath(p string) (string, error) {
	p = strings.ReplaceAll(p, "\\", "/")
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%s: expected to be relative", p)
	}
	n := path.Clean(p)
	if n == ".." || strings.HasPrefix(n, "../") {
		return "", fmt.Errorf("%s: is outside the context directory", p)
	}
	return n, nil
}

// ConfigForModule returns the breaking configuration of the module at dir
// (relative to the buf.yaml; "." for v1 files). For v2 files, a module's
// own breaking section wins over the top-level one; top-level ignore paths
// are relative to the workspace and only those inside the module apply.
// Unknown rule and category IDs are errors here, when the check is
// configured, as buf reports them when it checks (not when it builds).
func (b *BufYAML) ConfigForModule(dir string) (Config, error) {
	return b.configForModule(dir, true)
}

func (b *BufYAML) configForModule(dir string, checkRules bool) (Config, error) {
	if b.Version != VersionV2 {
		return configFromExternal(b.Version, b.top, ".", true, checkRules)
	}
	for _, m := range b.modules {
		if m.dir != dir {
			continue
		}
		if m.breaking != nil {
			return configFromExternal(VersionV2, m.breaking, dir, true, checkRules)
		}
		return configFromExternal(VersionV2, b.top, dir, false, checkRules)
	}
	return configFromExternal(VersionV2, b.top, ".", false, checkRules)
}

func configFromExternal(v Version, e *externalBreaking, moduleDir string, requireInside, checkRules bool) (Config, error) {
	cfg := Config{Version: v}
	if e == nil {
		return cfg, nil
	}
	for _, ig := range e.Ignore {
		n, err := normalizePath(ig)
		if err != nil {
			return Config{}, fmt.Errorf("breaking.ignore: invalid path: %w", err)
		}
		if n == moduleDir {
			return Config{Version: v, Disabled: true}, nil
		}
	}
	rel := func(field string, paths []string) ([]string, error) {
		var out []string
		for _, p := range paths {
			n, err := normalizePath(p)
			if err != nil {
				return nil, fmt.Errorf("%s: invalid path: %w", field, err)
			}
			if moduleDir != "." {
				if n != moduleDir && !strings.HasPrefix(n, moduleDir+"/") {
					if requireInside {
						return nil, fmt.Errorf("%s: path %q is not contained within module directory %q", field, n, moduleDir)
					}
					continue
				}
				n = strings.TrimPrefix(strings.TrimPrefix(n, moduleDir), "/")
				if n == "" {
					n = "."
				}
			}
			out = append(out, n)
		}
		return out, nil
	}
	var err error
	cfg.Use = slices.Clone(e.Use)
	cfg.Except = slices.Clone(e.Except)
	cfg.IgnoreUnstablePackages = e.IgnoreUnstablePackages
	cfg.DisableBuiltin = e.DisableBuiltin
	if cfg.Ignore, err = rel("breaking.ignore", e.Ignore); err != nil {
		return Config{}, err
	}
	for id, paths := range e.IgnoreOnly {
		r, err := rel("breaking.ignore_only", paths)
		if err != nil {
			return Config{}, err
		}
		if len(r) > 0 {
			if cfg.IgnoreOnly == nil {
				cfg.IgnoreOnly = map[string][]string{}
			}
			cfg.IgnoreOnly[id] = r
		}
	}
	if checkRules {
		if _, err := resolve(cfg); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}
