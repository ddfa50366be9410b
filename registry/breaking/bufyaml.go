package breaking

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// This file is natsrpc's one reader of buf's configuration files. The
// breaking checker and the CLI's input loader (modules, roots, includes,
// excludes, workspaces) both read buf.yaml through it, strictly, as buf
// does: an unknown key, a value of the wrong type or an unknown version is
// an error whose text is buf's (the tests compare with the pinned buf).
// Sections natsrpc does not use (lint, plugins, policies) are checked for
// unknown keys and types and otherwise ignored.

// ConfigError says why a buf.yaml or buf.work.yaml cannot be read. Its
// message is the one buf gives after "decode <file>: "; callers say which
// file.
type ConfigError struct {
	// File is "buf.yaml" or "buf.work.yaml".
	File string
	err  error
}

func configErrorf(file, format string, args ...any) *ConfigError {
	return &ConfigError{File: file, err: fmt.Errorf(format, args...)}
}

// Error returns buf's message.
func (e *ConfigError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.err }

// BufYAML is a parsed buf.yaml (YAML or JSON): the module layout the input
// loader needs and the breaking configuration of each module.
type BufYAML struct {
	// Version is the file's version.
	Version Version
	// Name is the top-level module name (v1beta1, v1; the single module of
	// a v2 file without modules).
	Name string
	// Deps are the file's dependencies, as written.
	Deps []string
	// Roots are build.roots, as written (v1beta1 only; buf refuses them in
	// v1).
	Roots []string
	// Excludes are build.excludes, as written (v1beta1 and v1).
	Excludes []string
	// Modules are a v2 file's module entries, in order; empty for v1
	// files and for a v2 file without modules (one module at ".").
	Modules []BufModule

	// top is the top-level breaking section; nil when a v2 file has none.
	top *externalBreaking
	// modules are the modules' breaking sections by directory, in order.
	modules []bufYAMLModule
}

// BufModule is one entry of a v2 buf.yaml's modules list.
type BufModule struct {
	// Path is the module's directory, as written (relative to the
	// buf.yaml; "" means ".").
	Path string
	// Name is the module's name, if any.
	Name string
	// Includes and Excludes are directories, as written (relative to the
	// buf.yaml, inside Path).
	Includes, Excludes []string
}

type bufYAMLModule struct {
	dir      string
	breaking *externalBreaking
}

type externalBreaking struct {
	Use                    []string            `yaml:"use"`
	Except                 []string            `yaml:"except"`
	Ignore                 []string            `yaml:"ignore"`
	IgnoreOnly             map[string][]string `yaml:"ignore_only"`
	IgnoreUnstablePackages bool                `yaml:"ignore_unstable_packages"`
	DisableBuiltin         bool                `yaml:"disable_builtin"`
}

func (e *externalBreaking) isEmpty() bool {
	return e == nil || (len(e.Use) == 0 && len(e.Except) == 0 && len(e.Ignore) == 0 &&
		len(e.IgnoreOnly) == 0 && !e.IgnoreUnstablePackages && !e.DisableBuiltin)
}

// externalLint is the lint section, read only so that its keys and types
// are checked as buf checks them. allow_comment_ignores is v1's,
// disallow_comment_ignores v2's.
type externalLint struct {
	Use                                  []string            `yaml:"use"`
	Except                               []string            `yaml:"except"`
	Ignore                               []string            `yaml:"ignore"`
	IgnoreOnly                           map[string][]string `yaml:"ignore_only"`
	EnumZeroValueSuffix                  string              `yaml:"enum_zero_value_suffix"`
	RPCAllowSameRequestResponse          bool                `yaml:"rpc_allow_same_request_response"`
	RPCAllowGoogleProtobufEmptyRequests  bool                `yaml:"rpc_allow_google_protobuf_empty_requests"`
	RPCAllowGoogleProtobufEmptyResponses bool                `yaml:"rpc_allow_google_protobuf_empty_responses"`
	ServiceSuffix                        string              `yaml:"service_suffix"`
	DisableBuiltin                       bool                `yaml:"disable_builtin"`
}

type externalLintV1 struct {
	externalLint        `yaml:",inline"`
	AllowCommentIgnores bool `yaml:"allow_comment_ignores"`
}

type externalLintV2 struct {
	externalLint           `yaml:",inline"`
	DisallowCommentIgnores bool `yaml:"disallow_comment_ignores"`
}

type externalBufYAMLV1 struct {
	Version  string            `yaml:"version"`
	Name     string            `yaml:"name"`
	Deps     []string          `yaml:"deps"`
	Build    externalBuild     `yaml:"build"`
	Lint     externalLintV1    `yaml:"lint"`
	Breaking *externalBreaking `yaml:"breaking"`
}

type externalBufYAMLV2 struct {
	Version  string             `yaml:"version"`
	Name     string             `yaml:"name"`
	Deps     []string           `yaml:"deps"`
	Lint     externalLintV2     `yaml:"lint"`
	Breaking *externalBreaking  `yaml:"breaking"`
	Plugins  []externalPluginV2 `yaml:"plugins"`
	Policies []externalPolicyV2 `yaml:"policies"`
	Modules  []externalModuleV2 `yaml:"modules"`
}

type externalBuild struct {
	Roots    []string `yaml:"roots"`
	Excludes []string `yaml:"excludes"`
}

type externalPluginV2 struct {
	Plugin  any            `yaml:"plugin"`
	Options map[string]any `yaml:"options"`
}

type externalPolicyV2 struct {
	Policy     string              `yaml:"policy"`
	Ignore     []string            `yaml:"ignore"`
	IgnoreOnly map[string][]string `yaml:"ignore_only"`
}

type externalModuleV2 struct {
	Path     string            `yaml:"path"`
	Name     string            `yaml:"name"`
	Includes []string          `yaml:"includes"`
	Excludes []string          `yaml:"excludes"`
	Lint     externalLintV2    `yaml:"lint"`
	Breaking *externalBreaking `yaml:"breaking"`
}

type externalBufWorkYAML struct {
	Version     string   `yaml:"version"`
	Directories []string `yaml:"directories"`
}

// inType is what go.yaml.in/yaml/v3 appends to "field X not found" and
// gopkg.in/yaml.v3, which buf uses, does not.
var inType = regexp.MustCompile(` in type .*$`)

// decodeStrict decodes data into v, refusing unknown keys.
func decodeStrict(file string, data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for i, e := range te.Errors {
				te.Errors[i] = inType.ReplaceAllString(e, "")
			}
		}
		return &ConfigError{File: file, err: err}
	}
	return nil
}

// fileVersion reads the version key alone, as buf does first.
func fileVersion(file string, data []byte, suggest string) (string, error) {
	var head struct {
		Version string `yaml:"version"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return "", &ConfigError{File: file, err: err}
	}
	if head.Version == "" {
		return "", configErrorf(file, "%q is not set. Please add \"version: %s\"", "version", suggest)
	}
	switch head.Version {
	case "v1beta1", "v1", "v2":
		return head.Version, nil
	}
	return "", configErrorf(file, "unknown file version: %q", head.Version)
}

// ParseBufYAML parses a buf.yaml (YAML or JSON) strictly, as buf does. The
// error is a [*ConfigError].
func ParseBufYAML(data []byte) (*BufYAML, error) {
	const file = "buf.yaml"
	version, err := fileVersion(file, data, "v2")
	if err != nil {
		return nil, err
	}
	switch Version(version) {
	case VersionV1Beta1, VersionV1:
		var ext externalBufYAMLV1
		if err := decodeStrict(file, data, &ext); err != nil {
			return nil, err
		}
		if version == "v1" && len(ext.Build.Roots) > 0 {
			return nil, configErrorf(file, "build.roots cannot be set on version %v: %v", version, ext.Build.Roots)
		}
		top := ext.Breaking
		if top == nil {
			top = &externalBreaking{}
		}
		b := &BufYAML{Version: Version(version), Name: ext.Name, Deps: ext.Deps, Roots: ext.Build.Roots, Excludes: ext.Build.Excludes, top: top}
		// Paths are checked when the file is read, as buf does; rule IDs
		// when a check is configured (ConfigForModule).
		if _, err := b.configForModule(".", false); err != nil {
			return nil, &ConfigError{File: file, err: err}
		}
		return b, nil
	default: // v2
		var ext externalBufYAMLV2
		if err := decodeStrict(file, data, &ext); err != nil {
			return nil, err
		}
		if ext.Name != "" && len(ext.Modules) > 0 {
			return nil, configErrorf(file, "top-level name key cannot be specified if modules are specified, you must specify the name on each individual module, the top-level name key is only for the default case where you have one module at path \".\".")
		}
		b := &BufYAML{Version: VersionV2, Name: ext.Name, Deps: ext.Deps}
		if !ext.Breaking.isEmpty() {
			b.top = ext.Breaking
		}
		if len(ext.Modules) == 0 {
			b.modules = []bufYAMLModule{{dir: "."}}
		}
		for _, m := range ext.Modules {
			dir, err := normalizePath(m.Path)
			if m.Path == "" {
				dir, err = ".", nil
			}
			if err != nil {
				return nil, configErrorf(file, "invalid module path: %w", err)
			}
			mod := bufYAMLModule{dir: dir}
			if !m.Breaking.isEmpty() {
				mod.breaking = m.Breaking
			}
			b.modules = append(b.modules, mod)
			b.Modules = append(b.Modules, BufModule{Path: m.Path, Name: m.Name, Includes: m.Includes, Excludes: m.Excludes})
		}
		// Validate every module's paths up front, as buf does.
		for _, m := range b.modules {
			if _, err := b.configForModule(m.dir, false); err != nil {
				return nil, &ConfigError{File: file, err: err}
			}
		}
		return b, nil
	}
}

// BufWorkYAML is a parsed buf.work.yaml: the directories of a v1
// workspace.
type BufWorkYAML struct {
	// Directories are the workspace's module directories, as written.
	Directories []string
}

// ParseBufWorkYAML parses a buf.work.yaml strictly, as buf does: version
// v1 only, and at least one directory. The error is a [*ConfigError].
func ParseBufWorkYAML(data []byte) (*BufWorkYAML, error) {
	const file = "buf.work.yaml"
	version, err := fileVersion(file, data, "v1")
	if err != nil {
		return nil, err
	}
	if version != "v1" {
		return nil, configErrorf(file, "%s is not supported for %s files", version, file)
	}
	var ext externalBufWorkYAML
	if err := decodeStrict(file, data, &ext); err != nil {
		return nil, err
	}
	if len(ext.Directories) == 0 {
		return nil, configErrorf(file, "directories is empty")
	}
	return &BufWorkYAML{Directories: ext.Directories}, nil
}
