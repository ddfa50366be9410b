package lookup

import (
	"testing"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc/internal/descfuzz"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
)

// Fuzz targets for what the lookup client takes from the network: the
// VersionCreated events that move its heads, and the module versions it
// loads. Seeds live in testdata/fuzz/<target>/.
//
//	go test ./registry/lookup -run '^$' -fuzz '^FuzzEvents$'

// newFuzzClient returns a client with no connection, never synchronised,
// so that events only move heads (a gap or a drop would resynchronise
// over NATS).
func newFuzzClient() *Client {
	return emptyClient()
}

// FuzzEvents feeds a client a sequence of arbitrary event bodies, binary or
// JSON: whatever arrives, no module's known head ever goes back.
//
// The input is a sequence of events, each a length byte, a flags byte (bit
// 0: JSON) and that many bytes of body.
func FuzzEvents(f *testing.F) {
	ev := func(module string, v uint64, digest string, json bool) []byte {
		m := &registryv1.VersionCreatedRequest{Version: &registryv1.ModuleVersion{Module: module, Version: v, Digest: digest}}
		var body []byte
		if json {
			body, _ = protojson.Marshal(m)
		} else {
			body, _ = proto.Marshal(m)
		}
		flag := byte(0)
		if json {
			flag = 1
		}
		return append([]byte{byte(len(body)), flag}, body...)
	}
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	f.Add(cat(ev("a", 1, "x", false), ev("a", 3, "y", true), ev("a", 2, "z", false)))
	f.Add(cat(ev("a", 5, "x", false), ev("a", 5, "y", false), ev("b", 1, "", true)))
	f.Add(cat(ev("", 9, "x", false), []byte{3, 0, 0x0a, 0xff, 0x01}, []byte{2, 1, '{', '}'}))
	f.Add(cat(ev("a", 18446744073709551615, "x", true), ev("a", 1, "x", false)))
	f.Fuzz(func(t *testing.T, stream []byte) {
		c := newFuzzClient()
		highest := map[string]uint64{}
		for len(stream) >= 2 {
			n, flags := int(stream[0]), stream[1]
			stream = stream[2:]
			body := stream[:min(n, len(stream))]
			stream = stream[len(body):]
			msg := &nats.Msg{Data: body, Header: nats.Header{}}
			if flags&1 != 0 {
				msg.Header.Set("Content-Type", "application/json")
			}
			c.onEvent(msg)
			for name, h := range c.heads {
				if h.version < highest[name] {
					t.Fatalf("head of %q went back from %d to %d", name, highest[name], h.version)
				}
				highest[name] = h.version
			}
			if c.synced {
				t.Fatal("an event synchronised the client")
			}
		}
	})
}

// FuzzNewModule builds modules from mutated module versions, as a reply to
// GetModuleVersion could carry them (descfuzz programs on a valid schema,
// own files that may be missing): a version either fails to load or is
// a module whose own files' messages all resolve.
func FuzzNewModule(f *testing.F) {
	for _, seed := range [][]byte{{}, {9, 1, 0}, {11, 2, 0}, {35, 1, 62}, {12, 3, 33}, {25, 0, 0}} {
		f.Add(seed, byte(0))
	}
	base, err := descfuzz.Base()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, program []byte, ownSel byte) {
		set := proto.CloneOf(base)
		descfuzz.Mutate(set, program)
		mv := &registryv1.ModuleVersion{Module: "m", Version: uint64(ownSel), Digest: "sha256:x"}
		for i, p := range descfuzz.Targets {
			if ownSel&(1<<i) == 0 {
				mv.Files = append(mv.Files, p)
			}
		}
		if ownSel&0x10 != 0 {
			mv.Files = append(mv.Files, "missing.proto", "")
		}
		m, err := newModule("m", mv, set)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if m.name != "m" || m.version != mv.GetVersion() || len(m.own) > len(mv.GetFiles()) {
			t.Fatalf("module %+v from %v", m, mv)
		}
		for p := range m.own {
			fd, err := m.files.FindFileByPath(p)
			if err != nil {
				continue
			}
			found := false
			for _, pkg := range m.pkgs {
				found = found || pkg == string(fd.Package())
			}
			if !found {
				t.Fatalf("own file %q's package %q is not among the module's %q", p, fd.Package(), m.pkgs)
			}
			for i := 0; i < fd.Messages().Len(); i++ {
				name := fd.Messages().Get(i).FullName()
				mt, err := m.types.FindMessageByName(name)
				if err != nil {
					t.Fatalf("message %s of own file %q does not resolve: %v", name, p, err)
				}
				_ = proto.Unmarshal([]byte{0x0a, 0x01, 'x'}, mt.New().Interface())
			}
		}
	})
}
