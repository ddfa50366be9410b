package rpcctl

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzMessages: any input to -d is read as a sequence of JSON objects or
// refused with a *DataError, never a panic; each object delivered is
// valid JSON, and the objects written back one per line read back the
// same. Seeds in testdata/fuzz.
func FuzzMessages(f *testing.F) {
	for _, s := range []string{
		`{"questId": "q-1"}`,
		`{"a":1}{"a":2}`,
		"{\"value\": \"a\"}\n{\"value\": \"b\"}\n",
		`[1]`, `{} x`, `{"a":`, `"str"`, ``, "  \n", `{"a":{"b":[1,2,{"c":null}]}}`, `1 {}`, "{\"a\":\"\\ud800\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []json.RawMessage
		err := Messages(bytes.NewReader(data), func(n int, raw json.RawMessage) error {
			if n != len(got)+1 {
				t.Fatalf("message %d delivered as number %d", len(got)+1, n)
			}
			if !json.Valid(raw) || !strings.HasPrefix(strings.TrimSpace(string(raw)), "{") {
				t.Fatalf("delivered %q, not a JSON object", raw)
			}
			got = append(got, append(json.RawMessage(nil), raw...))
			return nil
		})
		if err != nil {
			if _, ok := err.(*DataError); !ok {
				t.Fatalf("Messages(%q) = %T %v; want a *DataError", data, err, err)
			}
			return
		}
		var again bytes.Buffer
		for _, m := range got {
			again.Write(m)
			again.WriteByte('\n')
		}
		n := 0
		if err := Messages(&again, func(int, json.RawMessage) error { n++; return nil }); err != nil || n != len(got) {
			t.Fatalf("the %d messages of %q written back read as %d, %v", len(got), data, n, err)
		}
	})
}

// TestMessages pins the errors of the -d reader.
func TestMessages(t *testing.T) {
	for in, want := range map[string]string{
		`[1]`:       "request message 1: [1] is not a JSON object",
		`{} 2`:      "request message 2: 2 is not a JSON object",
		`{"a":`:     "request message 1: the JSON ends in the middle of a value",
		`{} {"a" }`: "request message 2: not JSON at byte",
	} {
		err := Messages(strings.NewReader(in), func(int, json.RawMessage) error { return nil })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Messages(%q) = %v; want %q", in, err, want)
		}
	}
}
