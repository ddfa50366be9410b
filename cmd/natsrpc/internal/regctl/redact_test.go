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
		// The user info runs to the last "@": all of it is the secret.
		{"nats://t0ken@:@h:4222", "nats://xxxxx@h:4222"},
		{"nats://t0ken:@h:4222", "nats://xxxxx@h:4222"},
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

// FuzzRedactURLs: a password or token in the user info of any URL of a
// server list never survives redaction, whatever host, port, path and
// neighbours surround it, and text without "@" is left as it is. Seeds
// live in testdata/fuzz/FuzzRedactURLs/.
func FuzzRedactURLs(f *testing.F) {
	f.Add("nats", "127.0.0.1:4222", "s3cretpw", true)
	f.Add("tls", "a:4222,nats://b:4222", "t0kent0ken", false)
	f.Add("", "host", "pa55word", true)
	f.Add("ws", "h/p@q", "abcdef12", true)
	f.Add("nats", "[::1]:4222", "zzzzzz9", true)
	f.Fuzz(func(t *testing.T, scheme, host, secret string, withUser bool) {
		// Letters and digits for the secret, and around it only
		// characters a URL never escapes, with the ones that make its
		// structure: escaping ("%20") could spell the secret anew.
		if len(secret) < 6 || strings.ContainsFunc(secret, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) || strings.Contains(scheme+host, secret) || strings.Contains(secret, redacted) {
			return
		}
		if strings.ContainsFunc(scheme, func(r rune) bool { return r < 'a' || r > 'z' }) || strings.ContainsFunc(host, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".:/,_-@[]", r))
		}) {
			return
		}
		if !strings.Contains(host, "@") {
			if got := RedactURLs(host); got != host {
				t.Fatalf("RedactURLs(%q) = %q; want it unchanged", host, got)
			}
		}
		prefix := ""
		if scheme != "" {
			prefix = scheme + "://"
		}
		userinfo := secret
		if withUser {
			userinfo = "user:" + secret
		}
		// The secret is the user info of one URL of a list.
		for _, in := range []string{
			prefix + userinfo + "@" + host,
			"nats://" + userinfo + "@" + host + "," + prefix + "x",
			prefix + "x," + prefix + userinfo + "@" + host,
		} {
			if got := RedactURLs(in); strings.Contains(got, secret) {
				t.Fatalf("RedactURLs(%q) = %q: the secret survived", in, got)
			}
		}
	})
}
