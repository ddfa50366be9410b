package jsstore

import (
	"encoding/json"
	"testing"
)

// FuzzParseBatchAck decodes arbitrary replies to a batch commit: a reply is
// a sequence number or an error, never a panic, and a sequence only comes
// with a stream. Seeds live in testdata/fuzz/FuzzParseBatchAck/.
func FuzzParseBatchAck(f *testing.F) {
	f.Add([]byte(`{"stream":"KV_x","seq":42,"count":3}`))
	f.Add([]byte(`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 4"}}`))
	f.Add([]byte(`{"error":{"code":400,"err_code":10199,"description":"batch too large"}}`))
	f.Add([]byte(`{"error":{"code":503,"err_code":10008,"description":"no leader"}}`))
	f.Add([]byte(`{"seq":1}`))
	f.Add([]byte(`{"stream":"x","seq":-1}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		seq, err := parseBatchAck(data)
		if err != nil {
			if err.Error() == "" || seq != 0 {
				t.Fatalf("parseBatchAck(%q) = %d, %v", data, seq, err)
			}
			return
		}
		var ack struct {
			Stream string `json:"stream"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.Stream == "" {
			t.Fatalf("parseBatchAck(%q) = %d without a stream", data, seq)
		}
	})
}
