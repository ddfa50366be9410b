package testschema_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/reflect/protodesc"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
)

// TestGamingSetHasEveryFile checks that GamingSet holds every .proto file
// of proto/gaming (a new service's package must be imported in gaming.go)
// and that the set links.
func TestGamingSetHasEveryFile(t *testing.T) {
	set, own := testschema.GamingSet()
	want := testschema.GamingFiles(t)
	slices.Sort(want)
	got := slices.Sorted(slices.Values(own))
	if !slices.Equal(got, want) {
		t.Errorf("GamingSet's own files = %v\nproto/gaming has %v\n(import the missing generated packages in gaming.go)", got, want)
	}
	if _, err := protodesc.NewFiles(set); err != nil {
		t.Errorf("GamingSet does not link: %v", err)
	}
}
