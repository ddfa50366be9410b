package cli

import (
	"encoding/json"
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
		if err == nil {
			return
		}
		var fields map[string]any
		if json.Unmarshal(data, &fields) != nil {
			return
		}
		for _, k := range []string{"password", "token", "user_seed", "user_jwt"} {
			if v, ok := fields[k].(string); ok && len(v) >= 8 && strings.Contains(err.Error(), v) {
				t.Errorf("the error quotes the %s: %v", k, err)
			}
		}
	})
}
