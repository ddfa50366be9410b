package store

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxModuleNameLength is the longest module name the registry accepts.
const MaxModuleNameLength = 64

// ValidateModuleName reports whether name can name a module: 1 to 64
// lowercase ASCII letters, digits, "-" and "_", starting with a letter.
// Module names become NATS subject tokens and JetStream KV key tokens, so
// dots, wildcards, whitespace, "$" and upper case (which some file systems
// fold) are refused.
func ValidateModuleName(name string) error {
	const rules = "use 1 to 64 lowercase letters, digits, \"-\" and \"_\", starting with a letter (a module name becomes a NATS subject token and a KV key)"
	if name == "" {
		return invalidf("module name is empty; %s", rules)
	}
	if len(name) > MaxModuleNameLength {
		return invalidf("module name %q is %d bytes long; %s", name, len(name), rules)
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z':
		case (c >= '0' && c <= '9') || c == '-' || c == '_':
			if i == 0 {
				return invalidf("module name %q does not start with a letter; %s", name, rules)
			}
		default:
			return invalidf("module name %q contains %s; %s", name, quoteRuneAt(name, i), rules)
		}
	}
	return nil
}

// validateFilePath reports whether p can be a file path in the registry:
// relative, "/"-separated, made of letters, digits, "_", "-", "." and "/",
// without empty, "." or ".." segments. File paths become KV keys.
func validateFilePath(p string) error {
	if p == "" {
		return fmt.Errorf("file path is empty")
	}
	if len(p) > 512 {
		return fmt.Errorf("file path %q is longer than 512 bytes", p)
	}
	for i, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '/') {
			return fmt.Errorf("file path %q contains %s; use only letters, digits, \"_\", \"-\", \".\" and \"/\"", p, quoteRuneAt(p, i))
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("file path %q is not a clean relative path (empty, \".\" or \"..\" segment)", p)
		}
		if strings.HasPrefix(seg, ".") || strings.HasSuffix(seg, ".") || strings.Contains(seg, "..") {
			return fmt.Errorf("file path %q has a segment starting or ending with \".\" or containing \"..\"", p)
		}
	}
	return nil
}

// quoteRuneAt quotes the character that starts at byte i of s: the whole
// rune ('ü', not the first byte of its UTF-8 encoding), or the byte in hex
// when s is not valid UTF-8 there.
func quoteRuneAt(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("the byte 0x%02X (not UTF-8)", s[i])
	}
	return strconv.QuoteRune(r)
}

// KV keys. Every key is a NATS subject under "$KV.<bucket>.", so each
// dot-separated token must be non-empty and use only the KV key alphabet
// [-/_=.a-zA-Z0-9].
//
//	mod.<module>.head        the module head: latest version (CAS pointer)
//	mod.<module>.ver.<n>     version record n (immutable)
//	mod.<module>.policy      the module's policy
//	idx.pkg.<package>        owner of a proto package
//	idx.file.<path>          owner of a file path
//	idx.subj.<subject>       owner of a NATS method subject (escaped)
//	idx.gen                  the index generation: advanced by every batch that claims index entries
//	blob.<sha256 hex>        a descriptor set small enough for a KV value
//	fdig.<hex>.<module>.<n>  version n of module has an own file with digest sha256:<hex> (digests.go)
//	mod.<module>.fdig        the versions of module the fdig keys cover
func headKey(module string) string   { return "mod." + module + ".head" }
func policyKey(module string) string { return "mod." + module + ".policy" }
func versionKey(module string, v uint64) string {
	return "mod." + module + ".ver." + strconv.FormatUint(v, 10)
}

// genKey is the index generation (see [Registry.commit]). It has two
// tokens, so it never collides with an idx.<kind>.<name> key.
const genKey = "idx.gen"

func pkgKey(pkg string) string   { return "idx.pkg." + pkg }
func fileKey(path string) string { return "idx.file." + path }
func subjKey(subject string) string {
	return "idx.subj." + escapeSubject(subject)
}

// escapeSubject maps a NATS subject onto KV key tokens: the dots stay,
// and in each token every byte outside [A-Za-z0-9_-] becomes "=XX" (hex).
// The mapping is injective, so distinct subjects get distinct keys.
func escapeSubject(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String()
}
