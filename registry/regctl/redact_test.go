package regctl

import (
	"strings"
	"testing"
)

func TestRedactURLs(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://user:s3cret@127.0.0.1:4222", "nats://user:xxxxx@127.0.0.1:4222"},
		{"nats://t0ken@nats-1:4222", "nats://xxxxx@nats-1:4222"},
		{"tls://user:s3cret@a:4222,nats://t0ken@b:4222", "tls://user:xxxxx@a:4222,nats://xxxxx@b:4222"},
		{"nats://user:p%40ss%2Cw0rd@a:4222", "nats://user:xxxxx@a:4222"},
		{"user:s3cret@a:4222", "xxxxx@a:4222"},
		{"nats://us er:s3cret@a:4222", "nats://xxxxx@a:4222"},
		{"ws://user:s3cret@a:8080/path", "ws://user:xxxxx@a:8080/path"},
	}
	for _, c := range cases {
		got := RedactURLs(c.in)
		if got != c.want {
			t.Errorf("RedactURLs(%q) = %q; want %q", c.in, got, c.want)
		}
		for _, secret := range []string{"s3cret", "t0ken", "w0rd"} {
			if strings.Contains(got, secret) {
				t.Errorf("RedactURLs(%q) = %q: the secret is still there", c.in, got)
			}
		}
	}
}
