package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc/internal/descfuzz"
	"github.com/natsrpc/natsrpc/internal/spec"
	"github.com/natsrpc/natsrpc/registry/breaking"
)

// Fuzz targets for everything a push, a lookup or the store hands the
// registry: descriptor sets (mutated valid ones and raw bytes), module
// names, file paths, subjects and their key escaping, symbols, policies,
// page tokens and stored records. None needs NATS: they drive the pure
// functions a push and a read run before and after storage. Seeds live in
// testdata/fuzz/<target>/.
//
//	go test ./registry/server/store -run '^$' -fuzz '^FuzzPushContent$'

// maxFuzzKeyLength is the longest KV key a push may write: a key is part of
// the subject of a NATS message, in a protocol line the server caps at
// 4096 bytes by default (closing the connection when it is longer); the
// "$KV.<bucket>." before it takes up to 205 bytes.
const maxFuzzKeyLength = 3200

// checkKey fails unless key is a KV key JetStream and the server accept.
func checkKey(t *testing.T, key string) {
	t.Helper()
	if len(key) > maxFuzzKeyLength {
		t.Fatalf("key of %d bytes: %.80q...", len(key), key)
	}
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' || strings.Contains(key, "..") {
		t.Fatalf("key %q has an empty token", key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-/_=.", c) >= 0) {
			t.Fatalf("key %q contains %q", key, c)
		}
	}
}

// unescapeSubject inverts escapeSubject.
func unescapeSubject(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil || strings.ToUpper(s[i+1:i+3]) != s[i+1:i+3] {
			return "", false
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), true
}

// checkContent checks what a content that newContent accepted must
// satisfy, and that storing it and reading it back changes nothing.
func checkContent(t *testing.T, c *content, strict bool) {
	t.Helper()
	if len(c.own) == 0 || !slices.IsSorted(c.own) || len(slices.Compact(slices.Clone(c.own))) != len(c.own) {
		t.Fatalf("own files %q", c.own)
	}
	for _, p := range c.own {
		if IsBuiltinFile(p) || c.byPath[p] == nil || c.byPath[p].GetPackage() == "" {
			t.Fatalf("own file %q", p)
		}
		checkKey(t, fileKey(p))
	}
	for _, pkg := range c.packages {
		checkKey(t, pkgKey(pkg))
	}
	for subject, info := range c.subjects {
		if err := spec.ValidateSubject(subject); err != nil {
			t.Fatalf("subject %q: %v", subject, err)
		}
		checkKey(t, subjKey(subject))
		_ = violationAt(RuleSubjectTaken, c.byPath[info.file], info.path, "%s", subject)
	}
	for p := range c.byPath {
		if _, ok := c.fileDigests[p]; !ok {
			t.Fatalf("no digest for %q", p)
		}
		if !c.isOwn(p) {
			_ = c.importSite(p)(RuleDependencyMismatch, "%s", p)
		}
	}
	if c.digest == "" || c.blobSHA == "" || len(c.set.GetFile()) != len(c.byPath) {
		t.Fatalf("content without digests, or %d files for %d paths", len(c.set.GetFile()), len(c.byPath))
	}
	// Stored and read back, the content is the same: the canonical form
	// is a fixed point.
	again, err := loadContent(c.blob, c.own)
	if err != nil {
		t.Fatalf("stored content does not load: %v", err)
	}
	if again.digest != c.digest || !bytes.Equal(again.blob, c.blob) || !slices.Equal(again.packages, c.packages) {
		t.Fatalf("stored content changed: digest %s -> %s, %d -> %d blob bytes", c.digest, again.digest, len(c.blob), len(again.blob))
	}
	for p, d := range c.fileDigests {
		if again.fileDigests[p] != d {
			t.Fatalf("digest of %q changed", p)
		}
	}
	if strict {
		if !slices.Equal(sortedKeys(again.subjects), sortedKeys(c.subjects)) {
			t.Fatalf("subjects changed: %q -> %q", sortedKeys(c.subjects), sortedKeys(again.subjects))
		}
		// Pushing the stored bytes again is accepted and unchanged.
		set, err := decodeSet(c.blob, limits{})
		if err != nil {
			t.Fatal(err)
		}
		repush, err := newContent(set, c.own, limits{}, true)
		if err != nil || repush.digest != c.digest {
			t.Fatalf("stored content pushed again: %v", err)
		}
	}
}

// checkNewContentError checks that a refused push is refused as invalid
// input, with a message.
func checkNewContentError(t *testing.T, err error) {
	t.Helper()
	var re *Error
	if !errors.As(err, &re) || re.Kind != KindInvalidArgument || err.Error() == "" {
		t.Fatalf("refused with %T %v (kind %v); want an invalid_argument *Error", err, err, KindOf(err))
	}
}

var (
	fuzzMaxSet   = 4 << 20
	fuzzMaxFiles = 64
)

// fuzzOwn picks the own files of a push: none (buf's markers decide, or
// every non-built-in file), the base schema's, a subset, or odd names.
func fuzzOwn(sel byte) []string {
	switch sel % 4 {
	case 0:
		return nil
	case 1:
		return descfuzz.Targets
	case 2:
		var out []string
		for i, p := range descfuzz.Targets {
			if sel&(0x10<<i) != 0 {
				out = append(out, p)
			}
		}
		return out
	default:
		return []string{descfuzz.Targets[int(sel>>2)%len(descfuzz.Targets)], []string{"google/protobuf/empty.proto", "natsrpc/v1/options.proto", "missing.proto", "fuzz/svc/v1/svc.proto"}[sel>>4%4]}
	}
}

// FuzzPushContent runs what a push does before it touches storage on
// mutated copies of a valid schema (descfuzz programs: broken references,
// odd and malformed natsrpc options, buf markers, unknown fields, long
// names and subjects): decoding with the push limits, validation and
// canonicalization. A refusal must be an invalid_argument *Error; an
// accepted set must give keys NATS accepts, survive storage unchanged and
// be checkable against the unmodified schema by the default checker.
func FuzzPushContent(f *testing.F) {
	for _, seed := range [][]byte{{}, {29, 0, 1}, {32, 1, 0}, {1, 60, 255, 12, 2, 255}, {1, 75, 200, 30, 1, 0x51}, {38, 0, 1}, {37, 3, 70}, {11, 4, 0}} {
		f.Add(seed, byte(1))
	}
	base, err := descfuzz.Base()
	if err != nil {
		f.Fatal(err)
	}
	prev, err := newContent(proto.CloneOf(base), descfuzz.Targets, limits{}, true)
	if err != nil {
		f.Fatal(err)
	}
	policy := Policy{Categories: knownCategories, Direction: DirectionFull}
	f.Fuzz(func(t *testing.T, program []byte, ownSel byte) {
		set := proto.CloneOf(base)
		descfuzz.Mutate(set, program)
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
		if err != nil {
			return // a set a client cannot encode
		}
		decoded, err := decodeSet(data, limits{maxSetBytes: fuzzMaxSet, maxFiles: fuzzMaxFiles})
		if err != nil {
			checkNewContentError(t, err)
			return
		}
		c, err := newContent(decoded, fuzzOwn(ownSel), limits{maxSetBytes: fuzzMaxSet, maxFiles: fuzzMaxFiles}, true)
		if err != nil {
			checkNewContentError(t, err)
			return
		}
		checkContent(t, c, true)
		// The push goes on to check the set against the latest version;
		// the checker must be able to (an error fails the push as internal).
		if _, err := breakingCheck(context.Background(), prev.snapshot("m", 1), c.snapshot("m", 0), policy); err != nil {
			var ie *breaking.InternalError
			if errors.As(err, &ie) {
				t.Fatalf("checker panicked: %v\n%s", ie, ie.Stack)
			}
			t.Fatalf("checker failed on an accepted push: %v", err)
		}
	})
}

// FuzzDecodeSet feeds arbitrary bytes to what a push does with an upload
// or a stored blob: decode, then validate strictly (a push) and leniently
// (a stored version being read).
func FuzzDecodeSet(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x0a, 0x0b, 0x0a, 0x07, 'a', '.', 'p', 'r', 'o', 't', 'o', 0x12, 0x00})
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01})
	f.Add([]byte{0x0a, 0x10, 0x0a, 0x07, 'a', '.', 'p', 'r', 'o', 't', 'o', 0x12, 0x01, 'a', 0x52, 0x03, 0x08, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, strict := range []bool{true, false} {
			set, err := decodeSet(data, limits{maxSetBytes: fuzzMaxSet, maxFiles: fuzzMaxFiles})
			if err != nil {
				checkNewContentError(t, err)
				return
			}
			c, err := newContent(set, nil, limits{maxSetBytes: fuzzMaxSet, maxFiles: fuzzMaxFiles}, strict)
			if err != nil {
				checkNewContentError(t, err)
				continue
			}
			checkContent(t, c, strict)
		}
	})
}

// FuzzNames checks the validators of what requests name (module names,
// file paths, symbols, subjects) against plain restatements of their
// rules, and that everything they accept makes keys NATS accepts; and that
// the subject escaping is injective.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"gaming", "a", "Gaming", "a.b", "a/b.proto", "a//b.proto", "./a.proto", "a/../b.proto", ".a", "a.",
		"é", "$SYS", "a*", "a=2E", "x.y.z", strings.Repeat("a", 65), strings.Repeat("é", 600), "a\x00b", "1abc", "a-b_c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Module names.
		wantModule := len(s) >= 1 && len(s) <= MaxModuleNameLength && s[0] >= 'a' && s[0] <= 'z' &&
			strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == ""
		if err := ValidateModuleName(s); (err == nil) != wantModule {
			t.Fatalf("ValidateModuleName(%q) = %v; want ok=%v", s, err, wantModule)
		} else if err != nil && (KindOf(err) != KindInvalidArgument || err.Error() == "") {
			t.Fatalf("ValidateModuleName(%q) = %v", s, err)
		} else if err == nil {
			checkKey(t, headKey(s))
			checkKey(t, policyKey(s))
			checkKey(t, versionKey(s, math.MaxUint64))
		}
		// File paths.
		if err := validateFilePath(s); err == nil {
			for seg := range strings.SplitSeq(s, "/") {
				if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
					t.Fatalf("validateFilePath(%q) accepted segment %q", s, seg)
				}
			}
			checkKey(t, fileKey(s))
		}
		// Symbols.
		if err := validateSymbol(s); err == nil {
			if len(s) > 1024 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") != "" || slices.Contains(strings.Split(s, "."), "") {
				t.Fatalf("validateSymbol(%q) accepted it", s)
			}
			checkKey(t, pkgKey(s))
		} else if KindOf(err) != KindInvalidArgument {
			t.Fatalf("validateSymbol(%q) = %v", s, err)
		}
		// Subjects and their keys.
		esc := escapeSubject(s)
		if back, ok := unescapeSubject(esc); !ok || back != s {
			t.Fatalf("escapeSubject(%q) = %q, which unescapes to %q (%v)", s, esc, back, ok)
		}
		if strings.Trim(esc, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.=") != "" {
			t.Fatalf("escapeSubject(%q) = %q", s, esc)
		}
		if spec.ValidateSubject(s) == nil {
			checkKey(t, subjKey(s))
		}
	})
}

// FuzzPolicy checks direction parsing and policy normalization: accepted
// values round-trip, normalization is idempotent and its result is what
// a stored policy must decode to.
func FuzzPolicy(f *testing.F) {
	f.Add("backward", "FILE,NATSRPC", 0, false)
	f.Add("FULL", " wire_json , WIRE ,wire", 3, true)
	f.Add("sideways", "", -1, false)
	f.Add("", "NOPE", 7, false)
	f.Fuzz(func(t *testing.T, dir, cats string, d int, transitive bool) {
		if pd, err := ParseDirection(dir); err == nil {
			if again, err := ParseDirection(pd.String()); err != nil || again != pd {
				t.Fatalf("ParseDirection(%q) = %v, whose String() parses as %v, %v", dir, pd, again, err)
			}
		} else if KindOf(err) != KindInvalidArgument {
			t.Fatalf("ParseDirection(%q) = %v", dir, err)
		}
		p := Policy{Categories: strings.Split(cats, ","), Direction: Direction(d), Transitive: transitive}
		n, err := p.Normalize()
		if err != nil {
			if KindOf(err) != KindInvalidArgument || err.Error() == "" {
				t.Fatalf("Normalize(%+v) = %v", p, err)
			}
			return
		}
		if n.Direction < DirectionBackward || n.Direction > DirectionFull {
			t.Fatalf("Normalize(%+v) = %+v", p, n)
		}
		idx := -1
		for _, c := range n.Categories {
			i := slices.Index(knownCategories, c)
			if i <= idx {
				t.Fatalf("Normalize(%+v) categories %q", p, n.Categories)
			}
			idx = i
		}
		again, err := n.Normalize()
		if err != nil || !slices.Equal(again.Categories, n.Categories) || again.Direction != n.Direction || again.Transitive != n.Transitive {
			t.Fatalf("Normalize is not idempotent: %+v -> %+v, %v", n, again, err)
		}
		data, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := decodePolicy("m", data)
		if err != nil || !slices.Equal(stored.Categories, n.Categories) || stored.Direction != n.Direction || stored.Transitive != n.Transitive {
			t.Fatalf("stored policy %s decodes as %+v, %v", data, stored, err)
		}
	})
}

// FuzzRecords decodes arbitrary stored values as each kind of record: a
// corrupt value is an internal error, never a panic, and a decoded record
// is stored and decoded again unchanged. A page token gives the first
// version of its page, or invalid_argument.
func FuzzRecords(f *testing.F) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	head, _ := json.Marshal(headRecord{Format: recordFormat, Version: 3, Digest: "sha256:ab", Time: now, PushID: "p"})
	ver, _ := json.Marshal(versionRecord{Format: recordFormat, Module: "m", Version: 3, Digest: "sha256:ab", CreateTime: now,
		Files: []fileEntry{{Path: "a.proto", Digest: "d"}, {Path: "b.proto", Digest: "e"}}, Deps: []Dependency{{File: "c.proto", Digest: "f"}}, RevertOf: []uint64{1}})
	f.Add(head, "m", uint64(3), "")
	f.Add(ver, "m", uint64(3), "2")
	f.Add([]byte(`{"module":"m","method":"a.B.C"}`), "m", uint64(1), "18446744073709551615")
	f.Add([]byte(`{"categories":["file","natsrpc"],"direction":3}`), "m", uint64(0), "-1")
	f.Add([]byte(`{"format":1,"module":"m","version":3,"files":[{"path":"b"},{"path":"a"}]}`), "m", uint64(3), "0")
	f.Add([]byte(`null`), "m", uint64(0), "x")
	f.Fuzz(func(t *testing.T, value []byte, module string, v uint64, token string) {
		internal := func(err error) {
			t.Helper()
			if KindOf(err) != KindInternal || err.Error() == "" {
				t.Fatalf("corrupt value %q: %v (kind %v); want an internal error", value, err, KindOf(err))
			}
		}
		if h, err := decodeHead(module, value); err != nil {
			internal(err)
		} else if h.Format != recordFormat || h.Version == 0 {
			t.Fatalf("accepted head %+v", h)
		} else {
			b, _ := json.Marshal(h)
			if again, err := decodeHead(module, b); err != nil || !again.Time.Equal(h.Time) || again.Version != h.Version || again.Digest != h.Digest || again.PushID != h.PushID {
				t.Fatalf("head %s decodes as %+v, %v", b, again, err)
			}
		}
		if rec, err := decodeVersion(module, v, value); err != nil {
			internal(err)
		} else {
			if rec.Module != module || rec.Version != v {
				t.Fatalf("accepted record %+v for %s@%d", rec, module, v)
			}
			for _, fe := range rec.Files {
				if d, ok := rec.fileDigest(fe.Path); !ok || d != fe.Digest {
					t.Fatalf("record %+v: file %q not found by its digest lookup", rec, fe.Path)
				}
			}
			_ = rec.info()
			b, _ := json.Marshal(rec)
			again, err := decodeVersion(module, v, b)
			b2, _ := json.Marshal(again)
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("record %s decodes as %s, %v", b, b2, err)
			}
		}
		if o, err := decodeOwner("idx.pkg.x", value); err != nil {
			internal(err)
		} else if o.Module == "" {
			t.Fatalf("accepted owner %+v", o)
		}
		if p, err := decodePolicy(module, value); err != nil {
			internal(err)
		} else if n, err := p.Normalize(); err != nil || !slices.Equal(n.Categories, p.Categories) || n.Direction != p.Direction {
			t.Fatalf("stored policy %+v is not normalized: %+v, %v", p, n, err)
		}
		from, err := versionsFrom(token)
		if err != nil {
			if KindOf(err) != KindInvalidArgument {
				t.Fatalf("versionsFrom(%q) = %v", token, err)
			}
			return
		}
		want := uint64(1)
		if token != "" {
			after, err := strconv.ParseUint(token, 10, 64)
			if err != nil || after == math.MaxUint64 {
				t.Fatalf("versionsFrom(%q) = %d; no version comes after that token", token, from)
			}
			want = after + 1
		}
		if from != want {
			t.Fatalf("versionsFrom(%q) = %d; want %d", token, from, want)
		}
	})
}
