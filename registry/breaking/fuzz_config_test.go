package breaking

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// Fuzz targets for the checker's parsers: buf.yaml files (as found in an
// input or given with --config), the --error-format and direction values
// the CLI passes through, and the printers fed hostile paths and messages.
// Seeds live in testdata/fuzz/<target>/.
//
//	go test ./registry/breaking -run '^$' -fuzz '^FuzzParseBufYAML$'

// FuzzParseBufYAML parses arbitrary buf.yaml contents: they parse or fail
// with an error, never panic; the paths of every module of a file that
// parses were validated up front, and ConfigForModule fails exactly when
// the module's rules do not resolve.
func FuzzParseBufYAML(f *testing.F) {
	for _, s := range []string{
		"version: v1\nbreaking:\n  use: [FILE]\n  except: [FIELD_NO_DELETE]\n  ignore: [a/b]\n  ignore_only:\n    WIRE: [c]\n",
		"version: v2\nmodules:\n  - path: proto\n    breaking:\n      use: [WIRE_JSON]\n  - path: other\nbreaking:\n  ignore_unstable_packages: true\n",
		"version: v1beta1\nbuild:\n  roots: [proto]\nbreaking:\n  use: [PACKAGE]\n",
		"version: v2\nbreaking:\n  use: [NATSRPC]\n  disable_builtin: true\n",
		`{"version":"v2","modules":[{"path":"a"}],"breaking":{"ignore":["a"]}}`,
		"version: v3\n", "version: v2\nunknown_key: 1\n", "version: v2\nmodules:\n  - path: ../x\n", "version: v2\nbreaking:\n  use: [NOPE]\n",
		"version: v1\nbreaking:\n  ignore: [/abs]\n", "", "version: [", "version: v2\nbreaking:\n  except: [FILE]\n  use: [FILE]\n",
		"version: v2\n&a [*a, *a]\n",
	} {
		f.Add(s, "proto")
	}
	f.Fuzz(func(t *testing.T, data, dir string) {
		b, err := ParseBufYAML([]byte(data))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		switch b.Version {
		case VersionV1Beta1, VersionV1, VersionV2:
		default:
			t.Fatalf("version %q", b.Version)
		}
		dirs := []string{"."}
		for _, m := range b.modules {
			dirs = append(dirs, m.dir)
		}
		for i, d := range append(dirs, dir) {
			validated := i > 0 && i < len(dirs)
			// Paths are validated when the file is read; rule IDs when a
			// check is configured, as buf does.
			cfg, err := b.configForModule(d, false)
			if err != nil {
				if validated {
					t.Fatalf("module %q was validated but its paths fail: %v", d, err)
				}
				continue
			}
			_, rerr := ResolveRuleIDs(cfg)
			_, cerr := b.ConfigForModule(d)
			if (rerr == nil) != (cerr == nil) {
				t.Fatalf("module %q: ConfigForModule says %v but the rules resolve with %v", d, cerr, rerr)
			}
			_ = Warnings(cfg, "buf.yaml")
		}
	})
}

// FuzzParseFlags checks the values `natsrpc breaking` and `natsrpc push`
// take as strings: error formats and directions round-trip, and policies
// built from arbitrary category lists give rules or an error.
func FuzzParseFlags(f *testing.F) {
	for _, s := range []string{"text", "JSON", " junit ", "gcc", "", "github-actions", "backward", "FULL", "forward ", "sideways", "WIRE_JSON,NATSRPC", "FILE,,CSR", "FIELD_NO_DELETE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if format, err := ParseFormat(s); err == nil {
			if !slices.Contains(Formats, format) {
				t.Fatalf("ParseFormat(%q) = %q", s, format)
			}
			if again, err := ParseFormat(format); err != nil || again != format {
				t.Fatalf("ParseFormat(%q) = %q, which parses as %q, %v", s, format, again, err)
			}
		} else if err.Error() == "" {
			t.Fatal("empty error")
		}
		if d, err := ParseDirection(s); err == nil {
			if again, err := ParseDirection(d.String()); err != nil || again != d {
				t.Fatalf("ParseDirection(%q) = %v, whose String() parses as %v, %v", s, d, again, err)
			}
		} else if err.Error() == "" {
			t.Fatal("empty error")
		}
		for _, d := range []Direction{0, DirectionBackward, DirectionForward, DirectionFull, 9} {
			p := Policy{Categories: strings.Split(s, ","), Except: strings.Split(s, ";"), Direction: d}
			if _, err := p.Rules(); err != nil && err.Error() == "" {
				t.Fatal("empty error")
			}
		}
	})
}

// FuzzPrint prints violations with arbitrary paths, rules and messages (a
// hostile image names its files as it likes) in every format: JSON and
// JUnit output must stay well-formed.
func FuzzPrint(f *testing.F) {
	f.Add("a.proto", "FIELD_NO_DELETE", "Previously present field \"1\" was deleted.", 3, 5)
	f.Add("", "", "", 0, 0)
	f.Add("a\x00b\xff.proto", "<rule>", "line\nbreak ]]> & \"quote\" \x1b[31m", -1, 1<<40)
	f.Fuzz(func(t *testing.T, path, rule, message string, line, col int) {
		vs := []Violation{
			{Path: path, RuleID: rule, Message: message, StartLine: line, StartColumn: col, EndLine: line, EndColumn: col + 1},
			{Path: path + "x", RuleID: rule, Message: message},
		}
		for _, format := range Formats {
			var out bytes.Buffer
			if err := Print(&out, vs, format); err != nil {
				t.Fatalf("Print %s: %v", format, err)
			}
			switch format {
			case "json":
				for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
					if !json.Valid([]byte(l)) {
						t.Fatalf("json line %q", l)
					}
				}
			case "gitlab-code-quality":
				if !json.Valid(out.Bytes()) {
					t.Fatalf("gitlab output %q", out.String())
				}
			case "junit":
				dec := xml.NewDecoder(&out)
				for {
					_, err := dec.Token()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("junit output is not XML: %v", err)
					}
				}
			}
		}
	})
}
