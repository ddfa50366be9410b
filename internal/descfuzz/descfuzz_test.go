package descfuzz

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
)

// TestBase checks that the base schema compiles and links, and that
// mutating it never panics.
func TestBase(t *testing.T) {
	base, err := Base()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protodesc.NewFiles(base); err != nil {
		t.Fatal(err)
	}
	for op := 0; op < NumOps*2; op++ {
		for a := 0; a < 256; a += 37 {
			for b := 0; b < 256; b += 29 {
				set := proto.CloneOf(base)
				Mutate(set, []byte{byte(op), byte(a), byte(b), 1, 2, 3})
			}
		}
	}
}
