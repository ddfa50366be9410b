package regctl

import (
	"net/url"
	"strings"
)

// redacted replaces secrets in printed URLs.
const redacted = "xxxxx"

// RedactURLs returns a NATS server list (URLs separated by commas, as
// --server and $NATS_URL take them) fit to print: the password of
// user:password@ and a token (user info without a password) become
// "xxxxx". Every URL the CLI prints goes through it, so that secrets in
// --server or $NATS_URL never reach a terminal, a log or a CI transcript.
func RedactURLs(servers string) string {
	if !strings.Contains(servers, "@") {
		return servers
	}
	parts := strings.Split(servers, ",")
	for i, p := range parts {
		parts[i] = redactURL(p)
	}
	return strings.Join(parts, ",")
}

func redactURL(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	trimmed := strings.TrimSpace(s)
	u, err := url.Parse(trimmed)
	if err == nil && u.Host != "" {
		if u.User == nil {
			return s
		}
		// The user name of user:password@ is kept, to tell accounts apart;
		// anything else (a token, an empty password, a name with odd
		// characters that could be part of a secret) is replaced whole.
		if pw, _ := u.User.Password(); pw != "" && plainName(u.User.Username()) {
			u.User = url.UserPassword(u.User.Username(), redacted)
		} else {
			u.User = url.User(redacted)
		}
		return u.String()
	}
	// Not a URL net/url understands (nats.go accepts "host:port" without a
	// scheme, for one): everything before the last "@" after the scheme
	// is user info.
	at := strings.LastIndexByte(trimmed, '@')
	start := 0
	if i := strings.Index(trimmed, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	return trimmed[:start] + redacted + trimmed[at:]
}

// plainName reports whether a URL's user name is letters, digits, ".",
// "_" and "-" only.
func plainName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return s != ""
}
