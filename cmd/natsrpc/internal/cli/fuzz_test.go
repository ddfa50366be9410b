package cli

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzContextFile reads arbitrary bytes as a nats CLI context file: never
// a panic, and an error never quotes the file's secrets.
func FuzzContextFile(f *testing.F) {
	f.Add([]byte(`{"url":"nats://a:4222","user":"u","password":"s3cret-password"}`))
	f.Add([]byte(`{"url":"nats://a:4222","token":"env://NATSRPC_FUZZ_UNSET"}`))
	f.Add([]byte(`{"creds":"data:;base64,!!!","nkey":"file:///nonexistent"}`))
	f.Add([]byte(`{"socks_proxy":"socks5://x"}`))
	f.Add([]byte(`{"password": 12`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := contextFileError(t, data)
		if err == nil {
			return
		}
		var fields map[string]any
		if json.Unmarshal(data, &fields) != nil {
			return
		}
		for _, k := range []string{"password", "token", "user_seed", "user_jwt"} {
			v, ok := fields[k].(string)
			if !ok || len(v) < 8 || !strings.Contains(err.Error(), v) {
				continue
			}
			// A value that is a word of the message itself ("password")
			// is no leak: with the secret replaced, the message still has it.
			other := maps.Clone(fields)
			other[k] = strings.Repeat("\x01", len(v))
			b, _ := json.Marshal(other)
			if e2 := contextFileError(t, b); e2 != nil && strings.Contains(e2.Error(), v) {
				continue
			}
			t.Errorf("the error quotes the %s: %v", k, err)
		}
	})
}

// contextFileError loads data as the nats CLI context "f" and returns the
// error that loading it, or connecting options from it, gives.
func contextFileError(t *testing.T, data []byte) error {
	home := t.TempDir()
	dir := filepath.Join(home, "nats", "context")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	g := &Globals{home: home, getenv: func(k string) string {
		if k == "NATS_CONTEXT" {
			return "f"
		}
		return ""
	}}
	_, err := loadContext("f", home)
	if err == nil {
		_, err = g.Options()
	}
	return err
}
