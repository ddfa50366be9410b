package regctl

import (
	"context"
	"fmt"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/input"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/breaking"
	"github.com/natsrpc/natsrpc/registry/client"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// PushResult is the outcome of [Push].
type PushResult struct {
	// Response is the registry's answer.
	Response *registryv1.PushResponse
	// Violations are the response's violations as the breaking package's
	// printers take them, with the paths the user knows the files by.
	Violations []breaking.Violation
	// Files and OwnFiles count the files pushed and the module's own.
	Files, OwnFiles int
}

// Refused reports whether the push was (or, for a dry run, would be)
// refused.
func (r *PushResult) Refused() bool {
	return r.Response.GetOutcome() == registryv1.PushOutcome_PUSH_OUTCOME_REFUSED
}

// Summary is the one line the CLI prints for a push that was not refused.
func (r *PushResult) Summary() string {
	v := r.Response.GetVersion()
	ref := fmt.Sprintf("%s@%d", v.GetModule(), v.GetVersion())
	switch {
	case r.Response.GetDryRun() && r.Response.GetOutcome() == registryv1.PushOutcome_PUSH_OUTCOME_CREATED:
		return fmt.Sprintf("%s %s would be created (dry run; %d files, %d of the module's own)", ref, v.GetDigest(), r.Files, r.OwnFiles)
	case r.Response.GetOutcome() == registryv1.PushOutcome_PUSH_OUTCOME_UNCHANGED:
		return fmt.Sprintf("%s %s unchanged (identical to the latest version; nothing stored)", ref, v.GetDigest())
	default:
		return fmt.Sprintf("%s %s created (%d files, %d of the module's own)", ref, v.GetDigest(), r.Files, r.OwnFiles)
	}
}

// LoadPushInput loads an input (as `natsrpc breaking` does) and returns
// the descriptor set to push, the module's own files (the input's targets
// minus the files built into the registry) and the paths to show for each
// file. A *input.CompileError means the sources do not compile.
func LoadPushInput(ctx context.Context, ref string) (*registryv1.PushRequest, map[string]string, error) {
	in, err := input.Load(ctx, ref, input.Options{})
	if err != nil {
		return nil, nil, err
	}
	return pushFiles(in)
}

// pushFiles returns what a push of in sends (its files, and its targets
// minus the built-in files as the module's own) and the paths to show for
// each file.
func pushFiles(in *input.Input) (*registryv1.PushRequest, map[string]string, error) {
	req := &registryv1.PushRequest{}
	paths := map[string]string{}
	set := in.FileDescriptorSet()
	for _, f := range in.Files() {
		paths[f.Path] = f.ExternalPath
		if !f.Import && !store.IsBuiltinFile(f.Path) {
			req.OwnFiles = append(req.OwnFiles, f.Path)
		}
	}
	if len(req.OwnFiles) == 0 {
		return nil, nil, fmt.Errorf("input %q has no files of its own to push (only imports and files built into the registry)", in.Ref.Raw)
	}
	req.Source = &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}
	return req, paths, nil
}

// Push loads an input and pushes it as a version of module. A refusal is
// not an error: see [PushResult.Refused].
func Push(ctx context.Context, c *client.Client, ref, module string, dryRun bool) (*PushResult, error) {
	if err := store.ValidateModuleName(module); err != nil {
		return nil, err
	}
	req, paths, err := LoadPushInput(ctx, ref)
	if err != nil {
		return nil, err
	}
	req.Module = module
	req.DryRun = dryRun
	res, err := c.Push(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &PushResult{
		Response: res,
		Files:    len(req.GetFileDescriptorSet().GetFile()),
		OwnFiles: len(req.GetOwnFiles()),
	}
	for _, v := range res.GetViolations() {
		out.Violations = append(out.Violations, Violation(v, paths))
	}
	return out, nil
}

// Violation converts a registry violation for the breaking package's
// printers, showing the file by the path the user knows it by (paths maps
// import paths to those; nil keeps the import paths). A breaking change
// says which stored version it was found against.
func Violation(v *registryv1.Violation, paths map[string]string) breaking.Violation {
	p := v.GetFile()
	if ext, ok := paths[p]; ok && ext != "" {
		p = ext
	}
	msg := v.GetMessage()
	if n := v.GetAgainstVersion(); n != 0 {
		msg += fmt.Sprintf(" (against version %d)", n)
	}
	return breaking.Violation{
		RuleID:      v.GetRule(),
		Path:        p,
		StartLine:   int(v.GetStartLine()),
		StartColumn: int(v.GetStartColumn()),
		EndLine:     int(v.GetEndLine()),
		EndColumn:   int(v.GetEndColumn()),
		Message:     msg,
	}
}
