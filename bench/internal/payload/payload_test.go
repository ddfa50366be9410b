package payload

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

func TestMeasure(t *testing.T) {
	sizes, err := Measure()
	if err != nil {
		t.Fatal(err)
	}
	rows := ByService(sizes)
	if len(rows) != 23 {
		t.Fatalf("%d rows; want 22 services and a total", len(rows))
	}
	for _, r := range rows {
		if r.Messages == 0 || r.Proto == 0 || r.ProtoJSON <= r.Proto || r.StdJSON <= r.Proto {
			t.Errorf("%+v: implausible", r)
		}
	}
	t.Logf("%+v", rows[len(rows)-1])
	compressed := 0
	for _, s := range sizes {
		switch {
		case s.Compressed > s.Proto:
			t.Errorf("%s: %d bytes with compression, more than its %d of protobuf", s.Message, s.Compressed, s.Proto)
		case !s.Compressible || s.Proto < CompressThreshold:
			if s.Compressed != s.Proto {
				t.Errorf("%s: compressed to %d bytes; below the threshold or not compressible it goes as its %d of protobuf", s.Message, s.Compressed, s.Proto)
			}
		case s.Compressed < s.Proto:
			compressed++
		}
	}
	if compressed == 0 {
		t.Errorf("no message compressed; want the large unary responses and events compressed")
	}
}

// TestFillRoundTrips checks that every filled request and response is
// valid in both encodings (UTF-8, ranges) and survives them unchanged.
func TestFillRoundTrips(t *testing.T) {
	for _, s := range Services {
		svcs := s.File.Services()
		for i := 0; i < svcs.Len(); i++ {
			ms := svcs.Get(i).Methods()
			for j := 0; j < ms.Len(); j++ {
				for _, d := range []protoreflect.MessageDescriptor{ms.Get(j).Input(), ms.Get(j).Output()} {
					mt, err := protoregistry.GlobalTypes.FindMessageByName(d.FullName())
					if err != nil {
						t.Fatal(err)
					}
					m := Fill(mt.New().Interface())
					b, err := proto.Marshal(m)
					if err != nil {
						t.Fatalf("%s: %v", d.FullName(), err)
					}
					back := mt.New().Interface()
					if err := proto.Unmarshal(b, back); err != nil || !proto.Equal(m, back) {
						t.Fatalf("%s: binary round trip: %v", d.FullName(), err)
					}
					j, err := protojson.Marshal(m)
					if err != nil {
						t.Fatalf("%s: %v", d.FullName(), err)
					}
					back = mt.New().Interface()
					if err := protojson.Unmarshal(j, back); err != nil || !proto.Equal(m, back) {
						t.Fatalf("%s: JSON round trip: %v", d.FullName(), err)
					}
				}
			}
		}
	}
}
