package input

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/registry/breaking"
)

// BreakingOptions tune [CheckBreaking].
type BreakingOptions struct {
	// ConfigOverride replaces the input's buf.yaml: a path to a .yaml,
	// .yml or .json file, or the configuration itself (YAML or JSON), like
	// buf's --config.
	ConfigOverride string
	// WorkDir is where image inputs look for a buf.yaml, as buf reads the
	// working directory's buf.yaml for images. By default, the process's
	// working directory.
	WorkDir string
	// ExcludeImports drops findings in import files.
	ExcludeImports bool
	// NATSRPC turns on the NATSRPC rules.
	NATSRPC bool
}

// ModuleConfigs returns the breaking configuration of each module of in, in
// module order, the way buf picks it: the --config override, else the
// module's buf.yaml, else (for images) a buf.yaml in the working directory,
// else buf's defaults.
func ModuleConfigs(in *Input, opts BreakingOptions) ([]breaking.Config, error) {
	var override *breaking.BufYAML
	if opts.ConfigOverride != "" {
		data, err := readOverride(opts.ConfigOverride)
		if err != nil {
			return nil, err
		}
		if override, err = breaking.ParseBufYAML(data); err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
	}
	var workDirConfig *breaking.BufYAML
	if override == nil && (in.Ref.Format == FormatBinpb || in.Ref.Format == FormatJSON || in.Ref.Format == FormatTxtpb) {
		wd := opts.WorkDir
		if wd == "" {
			var err error
			if wd, err = os.Getwd(); err != nil {
				return nil, fmt.Errorf("cannot determine the working directory: %w", err)
			}
		}
		p := filepath.Join(wd, "buf.yaml")
		if data, err := os.ReadFile(p); err == nil {
			if workDirConfig, err = breaking.ParseBufYAML(data); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cannot read %s: %w", p, err)
		}
	}
	var out []breaking.Config
	for _, m := range in.Modules {
		var cfg breaking.Config
		var err error
		switch {
		case override != nil:
			cfg, err = override.ConfigForModule(m.Dir)
		case m.Config != nil:
			cfg, err = m.Config.BufYAML.ConfigForModule(m.Dir)
			if err != nil {
				err = fmt.Errorf("%s: %w", m.Config.Path, err)
			}
		case workDirConfig != nil:
			cfg, err = workDirConfig.ConfigForModule(".")
		default:
			cfg = breaking.DefaultConfig()
		}
		if err != nil {
			return nil, err
		}
		cfg.ExcludeImports = opts.ExcludeImports
		cfg.NATSRPC = opts.NATSRPC
		out = append(out, cfg)
	}
	return out, nil
}

func readOverride(s string) ([]byte, error) {
	switch filepath.Ext(s) {
	case ".json", ".yaml", ".yml":
		data, err := os.ReadFile(s)
		if err != nil {
			return nil, fmt.Errorf("--config: could not read file: %w", err)
		}
		return data, nil
	}
	return []byte(s), nil
}

// ModuleImage converts a loaded module to an [breaking.Image].
func ModuleImage(m *Module) breaking.Image {
	img := breaking.Image{Files: make([]breaking.ImageFile, 0, len(m.Files))}
	for _, f := range m.Files {
		img.Files = append(img.Files, breaking.ImageFile{Proto: f.Proto, Import: f.Import, ExternalPath: f.ExternalPath, Descriptor: f.Descriptor})
	}
	return img
}

// CheckBreaking runs the check of `natsrpc breaking`: each module of current
// against the module of against at the same position, each with its own
// configuration, and returns the union of the violations, sorted as buf
// sorts them. It also returns buf's configuration warnings.
func CheckBreaking(ctx context.Context, current, against *Input, opts BreakingOptions) ([]breaking.Violation, []string, error) {
	cfgs, err := ModuleConfigs(current, opts)
	if err != nil {
		return nil, nil, err
	}
	mods := current.Modules
	if len(mods) != len(against.Modules) {
		if len(mods) > len(against.Modules) && allEqual(cfgs) {
			mods, cfgs, err = pairModules(mods, cfgs, against.Modules)
			if err != nil {
				return nil, nil, err
			}
		} else {
			return nil, nil, fmt.Errorf("input contained %d images, whereas against contained %d images", len(mods), len(against.Modules))
		}
	}
	var warnings []string
	seen := map[string]bool{}
	var all []breaking.Violation
	for i, m := range mods {
		for _, w := range breaking.Warnings(cfgs[i], "buf.yaml") {
			if !seen[w] {
				seen[w] = true
				warnings = append(warnings, w)
			}
		}
		vs, err := breaking.CheckImages(ctx, ModuleImage(against.Modules[i]), ModuleImage(m), cfgs[i])
		if err != nil {
			return nil, warnings, err
		}
		all = append(all, vs...)
	}
	return breaking.SortViolations(all), warnings, nil
}

func allEqual(cfgs []breaking.Config) bool {
	for i := 1; i < len(cfgs); i++ {
		if !reflect.DeepEqual(cfgs[0], cfgs[i]) {
			return false
		}
	}
	return true
}

// pairModules keeps the current modules that have a target file in a
// distinct against module, as buf does when a workspace gained modules.
func pairModules(mods []*Module, cfgs []breaking.Config, against []*Module) ([]*Module, []breaking.Config, error) {
	used := map[int]bool{}
	var outMods []*Module
	var outCfgs []breaking.Config
	for i, m := range mods {
	files:
		for _, f := range m.Files {
			if f.Import {
				continue
			}
			for j, a := range against {
				if used[j] {
					continue
				}
				for _, af := range a.Files {
					if af.Path == f.Path && !af.Import {
						used[j] = true
						outMods = append(outMods, m)
						outCfgs = append(outCfgs, cfgs[i])
						break files
					}
				}
			}
		}
	}
	if len(used) != len(against) || len(outMods) != len(against) {
		return nil, nil, fmt.Errorf("input contained %d images, whereas against contained %d images", len(mods), len(against))
	}
	return outMods, outCfgs, nil
}

// CompileViolations converts compile errors to violations of type COMPILE,
// as buf reports sources that do not compile.
func CompileViolations(err *CompileError) []breaking.Violation {
	var vs []breaking.Violation
	for _, e := range err.Errors {
		vs = append(vs, breaking.Violation{
			RuleID:      "COMPILE",
			Path:        e.ExternalPath,
			StartLine:   e.StartLine,
			StartColumn: e.StartColumn,
			EndLine:     e.EndLine,
			EndColumn:   e.EndColumn,
			Message:     e.Message,
		})
	}
	return breaking.SortViolations(vs)
}

// Locate gives the files of in at the external paths named, which were
// compiled without source info ([Options.NoSourceInfo]), their source info:
// it compiles those files of ref again, with source info, and replaces
// their descriptors in in by copies that carry it. A breaking-change check
// compiles its input without source info (a fifth of compiling) and, only
// when it finds something, locates the files with findings; the check
// then runs again and reports the same findings with their positions. It
// works for directory and .proto file inputs, whose paths are relative to
// the working directory, and reports false for other inputs, which must
// be loaded with source info.
func Locate(ctx context.Context, in *Input, ref string, opts Options, externalPaths []string) (bool, error) {
	if in.Ref.Format != FormatDir && in.Ref.Format != FormatProtoFile {
		return false, nil
	}
	want := map[string]bool{}
	for _, p := range externalPaths {
		want[p] = true
	}
	var paths []string
	for _, m := range in.Modules {
		for _, f := range m.Files {
			if want[f.ExternalPath] && !f.Import && f.Proto.GetSourceCodeInfo() == nil {
				paths = append(paths, f.ExternalPath)
			}
		}
	}
	if len(paths) == 0 {
		return true, nil
	}
	if in.Ref.Format == FormatDir {
		opts.Paths = paths
	}
	opts.ExcludePaths = nil
	opts.NoSourceInfo = false
	located, err := Load(ctx, ref, opts)
	if err != nil {
		return false, err
	}
	byPath := map[string]*descriptorpb.SourceCodeInfo{}
	for _, m := range located.Modules {
		for _, f := range m.Files {
			if !f.Import && f.Proto.GetSourceCodeInfo() != nil {
				byPath[f.ExternalPath] = f.Proto.GetSourceCodeInfo()
			}
		}
	}
	for _, m := range in.Modules {
		for _, f := range m.Files {
			if sci := byPath[f.ExternalPath]; sci != nil && want[f.ExternalPath] && !f.Import {
				c := proto.CloneOf(f.Proto)
				c.SourceCodeInfo = sci
				f.Proto = c
			}
		}
	}
	return true, nil
}
