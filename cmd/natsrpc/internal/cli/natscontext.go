package cli

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// natsContext is a nats CLI context file (~/.config/nats/context/NAME.json),
// in the format of the nats CLI pinned in tools/natscli/go.mod
// (github.com/nats-io/jsm.go/natscontext): the settings natsrpc can use,
// and the ones it refuses rather than ignore.
type natsContext struct {
	name string

	URL         string `json:"url"`
	User        string `json:"user"`
	Password    string `json:"password"`
	Token       string `json:"token"`
	Creds       string `json:"creds"`
	NKey        string `json:"nkey"`
	Cert        string `json:"cert"`
	Key         string `json:"key"`
	CA          string `json:"ca"`
	InboxPrefix string `json:"inbox_prefix"`
	UserJWT     string `json:"user_jwt"`
	UserSeed    string `json:"user_seed"`
	TLSFirst    bool   `json:"tls_first"`

	// Settings natsrpc does not support: a context that sets one is
	// refused, since connecting without it would go elsewhere or as
	// someone else.
	NSC           string   `json:"nsc"`
	SocksProxy    string   `json:"socks_proxy"`
	JSDomain      string   `json:"jetstream_domain"`
	JSAPIPrefix   string   `json:"jetstream_api_prefix"`
	JSEventPrefix string   `json:"jetstream_event_prefix"`
	WinCertStore  string   `json:"windows_cert_store"`
	WinCertMatch  string   `json:"windows_cert_match"`
	WinCACerts    []string `json:"windows_ca_certs_match"`
}

// contextDir returns the nats CLI's context directory under root, or under
// $XDG_CONFIG_HOME (else ~/.config) when root is empty.
func contextDir(root string) (string, error) {
	if root == "" {
		root = os.Getenv("XDG_CONFIG_HOME")
	}
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot find the nats CLI's contexts: %w", err)
		}
		root = filepath.Join(home, ".config")
	}
	return filepath.Join(root, "nats", "context"), nil
}

// loadContext reads the context NAME from the nats CLI's context
// directory, or the file NAME when it ends in .json and exists (as the
// nats CLI does).
func loadContext(name, root string) (*natsContext, error) {
	path := ""
	if strings.HasSuffix(name, ".json") {
		if st, err := os.Stat(name); err == nil && !st.IsDir() {
			path = name
		}
	}
	if path == "" {
		if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' }) {
			return nil, fmt.Errorf("not a context name: use the name `nats context ls` shows, or the path of a context file ending in .json")
		}
		dir, err := contextDir(root)
		if err != nil {
			return nil, err
		}
		path = filepath.Join(dir, name+".json")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no nats CLI context %q (looked for %s): create it with `nats context save %s --server URL ...`, or name one `nats context ls` shows", name, path, strings.TrimSuffix(filepath.Base(name), ".json"))
	}
	if err != nil {
		return nil, fmt.Errorf("read the context: %w", err)
	}
	c := &natsContext{name: strings.TrimSuffix(filepath.Base(name), ".json")}
	if err := json.Unmarshal(data, c); err != nil {
		// The decoder's message may quote the file: keep only where.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("context file %s is not valid JSON (at byte %d)", path, se.Offset)
		}
		return nil, fmt.Errorf("context file %s does not have the nats CLI's format", path)
	}
	for field, set := range map[string]bool{
		"nsc":                    c.NSC != "",
		"socks_proxy":            c.SocksProxy != "",
		"jetstream_domain":       c.JSDomain != "",
		"jetstream_api_prefix":   c.JSAPIPrefix != "",
		"jetstream_event_prefix": c.JSEventPrefix != "",
		"windows_cert_store":     c.WinCertStore != "" || c.WinCertMatch != "" || len(c.WinCACerts) > 0,
	} {
		if set {
			return nil, fmt.Errorf("context file %s sets %s, which natsrpc does not support; make a context without it for natsrpc (`nats context copy`)", path, field)
		}
	}
	// Paths expand ~ and $VARIABLES, as the nats CLI expands them.
	for _, p := range []*string{&c.Creds, &c.NKey, &c.Cert, &c.Key, &c.CA} {
		*p = expandPath(*p)
	}
	return c, nil
}

func expandPath(p string) string {
	if p == "" || scheme(p) != "" {
		return p
	}
	p = os.ExpandEnv(p)
	if strings.HasPrefix(p, "~") {
		if home, err := os.UserHomeDir(); err == nil {
			p = home + p[1:]
		}
	}
	return p
}

// scheme returns the URI scheme of a credential reference (file, env,
// data, op, nsc), or "" for a plain value or path.
func scheme(ref string) string {
	if strings.HasPrefix(ref, "data:") {
		return "data"
	}
	u, err := url.Parse(ref)
	if err != nil || len(u.Scheme) < 2 || !strings.Contains(ref, "://") {
		return ""
	}
	return u.Scheme
}

// resolveRef reads the secret a reference names: file://PATH, env://VAR
// or data:;base64,...; other schemes are refused. The value is never put
// in an error.
func resolveRef(s setting, what string) ([]byte, error) {
	switch scheme(s.value) {
	case "file":
		p := expandPath(strings.TrimPrefix(s.value, "file://"))
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: the %s file: %w", s.from, what, err)
		}
		return data, nil
	case "env":
		name := strings.TrimPrefix(s.value, "env://")
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return nil, fmt.Errorf("%s: the %s is read from $%s, which is not set", s.from, what, name)
		}
		return []byte(v), nil
	case "data":
		rest := strings.TrimPrefix(s.value, "data:")
		header, payload, ok := strings.Cut(rest, ",")
		if !ok || !strings.Contains(header, "base64") {
			return nil, fmt.Errorf("%s: the %s is a data: URI without ;base64,", s.from, what)
		}
		data, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return nil, fmt.Errorf("%s: the %s is a data: URI that is not valid base64", s.from, what)
		}
		return data, nil
	case "":
		return nil, nil
	default:
		return nil, fmt.Errorf("%s: the %s is a %s:// reference, which natsrpc cannot read; give a file, an env:// or a data: reference", s.from, what, scheme(s.value))
	}
}

// literal returns a password, token, user or JWT: the value itself, or
// what its reference names.
func literal(s setting) (string, error) {
	data, err := resolveRef(s, "secret")
	if err != nil {
		return "", err
	}
	if data == nil {
		return s.value, nil
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

// filePath returns the path a file setting names (a path or file://).
func filePath(s setting, what string) (string, error) {
	p := s.value
	switch scheme(p) {
	case "":
	case "file":
		p = expandPath(strings.TrimPrefix(p, "file://"))
	default:
		return "", fmt.Errorf("%s: the %s must be a file; %s:// references are not supported", s.from, what, scheme(p))
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s: the %s %q: %w", s.from, what, p, unwrapPathError(err))
	}
	return p, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// credsOption authenticates with a credentials file (JWT and seed), from
// a path or a reference.
func credsOption(s setting) (nats.Option, error) {
	if sc := scheme(s.value); sc == "" || sc == "file" {
		p, err := filePath(s, "credentials file")
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: the credentials file %q: %w", s.from, p, unwrapPathError(err))
		}
		if _, err := nkeys.ParseDecoratedJWT(data); err != nil {
			return nil, fmt.Errorf("%s: %q is not a NATS credentials file (a user JWT and NKey seed, as `nsc generate creds` writes)", s.from, p)
		}
		return nats.UserCredentials(p), nil
	}
	data, err := resolveRef(s, "credentials")
	if err != nil {
		return nil, err
	}
	jwt, err := nkeys.ParseDecoratedJWT(data)
	if err != nil {
		return nil, fmt.Errorf("%s: the credentials are not a user JWT and NKey seed", s.from)
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: the credentials hold no NKey seed", s.from)
	}
	return nats.UserJWT(func() (string, error) { return jwt, nil }, kp.Sign), nil
}

// nkeyOption authenticates with an NKey seed, from a file or a reference.
func nkeyOption(s setting) (nats.Option, error) {
	var data []byte
	if sc := scheme(s.value); sc == "" || sc == "file" {
		p, err := filePath(s, "NKey seed file")
		if err != nil {
			return nil, err
		}
		if data, err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("%s: the NKey seed file %q: %w", s.from, p, unwrapPathError(err))
		}
	} else {
		var err error
		if data, err = resolveRef(s, "NKey seed"); err != nil {
			return nil, err
		}
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: no NKey seed found (a line starting with SU)", s.from)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("%s: the NKey seed is invalid", s.from)
	}
	return nats.Nkey(pub, kp.Sign), nil
}
