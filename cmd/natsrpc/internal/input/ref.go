package input

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Format is the kind of an input.
type Format string

const (
	// FormatDir is a directory of .proto files, with or without a buf.yaml.
	FormatDir Format = "dir"
	// FormatProtoFile is a single .proto file inside a directory input.
	FormatProtoFile Format = "protofile"
	// FormatBinpb is a binary FileDescriptorSet or buf image.
	FormatBinpb Format = "binpb"
	// FormatJSON is a FileDescriptorSet or buf image in protobuf JSON.
	FormatJSON Format = "json"
	// FormatTxtpb is a FileDescriptorSet or buf image in protobuf text format.
	FormatTxtpb Format = "txtpb"
	// FormatGit is a commit of a local git repository, read without network
	// access.
	FormatGit Format = "git"
)

// Ref is a parsed input reference such as "proto", "image.binpb" or
// ".git#branch=main,subdir=proto". The syntax is buf's:
// "<path>#<key>=<value>,<key>=<value>".
type Ref struct {
	// Raw is the reference as given.
	Raw string
	// Path is the part before "#".
	Path string
	// Format is the explicit "format" option or the format derived from
	// the path.
	Format Format
	// Branch, Tag and GitRef select the commit of a git input; at most one
	// is set. With none, HEAD is read.
	Branch, Tag, GitRef string
	// Subdir is the directory inside a git input that is the input proper.
	Subdir string
}

// ParseRef parses an input reference. It does not touch the file system
// except to tell a .proto file from a directory.
func ParseRef(raw string) (Ref, error) {
	ref := Ref{Raw: raw}
	value := strings.TrimSpace(raw)
	if value == "" {
		return Ref{}, fmt.Errorf("input is empty; give a directory, an image file or a git reference such as %q", ".git#branch=main")
	}
	parts := strings.Split(value, "#")
	switch len(parts) {
	case 1:
		ref.Path = value
	case 2:
		ref.Path = strings.TrimSpace(parts[0])
		opts := strings.TrimSpace(parts[1])
		if ref.Path == "" {
			return Ref{}, fmt.Errorf("input %q starts with \"#\"; put the path before the options", raw)
		}
		if opts == "" {
			return Ref{}, fmt.Errorf("input %q ends with \"#\"; add options such as %q or remove the \"#\"", raw, "branch=main")
		}
		seen := map[string]bool{}
		for pair := range strings.SplitSeq(opts, ",") {
			kv := strings.Split(pair, "=")
			if len(kv) != 2 || strings.TrimSpace(kv[0]) == "" || strings.TrimSpace(kv[1]) == "" {
				return Ref{}, fmt.Errorf("input %q: options must be key=value pairs separated by commas, got %q", raw, opts)
			}
			key, val := strings.TrimSpace(kv[0]), strings.TrimSpace(kv[1])
			if seen[key] {
				return Ref{}, fmt.Errorf("input %q: option %q is given twice", raw, key)
			}
			seen[key] = true
			switch key {
			case "format":
				switch f := Format(val); f {
				case FormatDir, FormatProtoFile, FormatBinpb, FormatJSON, FormatTxtpb, FormatGit:
					ref.Format = f
				case "bin":
					ref.Format = FormatBinpb
				default:
					return Ref{}, fmt.Errorf("input %q: unknown format %q; use one of dir, protofile, binpb, json, txtpb, git", raw, val)
				}
			case "branch":
				ref.Branch = val
			case "tag", "commit":
				ref.Tag = val
			case "ref":
				ref.GitRef = val
			case "subdir":
				sub := filepath.ToSlash(filepath.Clean(val))
				if filepath.IsAbs(val) || sub == ".." || strings.HasPrefix(sub, "../") {
					return Ref{}, fmt.Errorf("input %q: subdir %q must be a relative path inside the repository", raw, val)
				}
				// Values are trimmed, so cleaning must not leave white space at
				// an end ("a /" is "a "): the reference would not mean the
				// same once written back.
				if sub != strings.TrimSpace(sub) {
					return Ref{}, fmt.Errorf("input %q: subdir %q starts or ends with white space; remove it", raw, val)
				}
				if sub != "." {
					ref.Subdir = sub
				}
			case "depth", "recurse_submodules":
				// Accepted for compatibility with buf; a local read needs neither.
			default:
				return Ref{}, fmt.Errorf("input %q: unknown option %q; natsrpc understands format, branch, tag, commit, ref, subdir", raw, key)
			}
		}
	default:
		return Ref{}, fmt.Errorf("input %q has more than one \"#\"", raw)
	}
	if ref.Format == "" {
		ref.Format = formatForPath(ref.Path)
	}
	n := 0
	for _, s := range []string{ref.Branch, ref.Tag, ref.GitRef} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return Ref{}, fmt.Errorf("input %q: give only one of branch, tag (or commit) and ref", raw)
	}
	if ref.Format != FormatGit && (n > 0 || ref.Subdir != "") {
		return Ref{}, fmt.Errorf("input %q: branch, tag, ref and subdir apply to git inputs only; end the path with .git or add format=git", raw)
	}
	return ref, nil
}

func formatForPath(path string) Format {
	clean := filepath.ToSlash(filepath.Clean(path))
	base := clean
	if i := strings.LastIndex(clean, "/"); i >= 0 {
		base = clean[i+1:]
	}
	switch {
	case base == ".git" || strings.HasSuffix(base, ".git"):
		return FormatGit
	case strings.HasSuffix(base, ".binpb"), strings.HasSuffix(base, ".bin"):
		return FormatBinpb
	case strings.HasSuffix(base, ".json"):
		return FormatJSON
	case strings.HasSuffix(base, ".txtpb"):
		return FormatTxtpb
	case strings.HasSuffix(base, ".proto"):
		return FormatProtoFile
	default:
		return FormatDir
	}
}
