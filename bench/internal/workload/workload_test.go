package workload

import (
	"bytes"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"
)

// TestSameAnswer proves that the JSON twin carries the same data and that
// the JSON handler computes the same answer as the protobuf handler, each
// after a round trip through its encoding.
func TestSameAnswer(t *testing.T) {
	for _, c := range Calls {
		t.Run(c.Name, func(t *testing.T) {
			b, err := proto.Marshal(c.Request())
			if err != nil {
				t.Fatal(err)
			}
			req := c.NewRequest()
			if err := proto.Unmarshal(b, req); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(req, c.Request()) {
				t.Fatal("protobuf round trip changed the request")
			}
			res := c.Handle(req)
			if err := c.Check(res); err != nil {
				t.Fatal(err)
			}

			jb, err := json.Marshal(c.JSONRequest())
			if err != nil {
				t.Fatal(err)
			}
			jreq := c.NewJSONRequest()
			if err := json.Unmarshal(jb, jreq); err != nil {
				t.Fatal(err)
			}
			if again, _ := json.Marshal(jreq); !bytes.Equal(again, jb) {
				t.Fatalf("JSON round trip changed the request:\n%s\n%s", jb, again)
			}
			jres := c.HandleJSON(jreq)
			if err := c.CheckJSON(jres); err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(jres)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(c.ResponseJSON(res))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("JSON handler answer differs from the protobuf handler's:\n got %s\nwant %s", got, want)
			}
			t.Logf("request %d B protobuf, %d B JSON; response %d B protobuf, %d B JSON",
				len(b), len(jb), proto.Size(res), len(got))
		})
	}
}
