package cli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// setting is one resolved connection setting and where it came from, so
// that an error about it can say which flag, variable or context to fix.
type setting struct {
	value string
	// from is "--creds", "$NATS_CREDS" or `context "prod"`; empty for a
	// default.
	from string
	// level orders the sources: 3 flag, 2 environment, 1 context, 0
	// default.
	level int
}

func (s setting) set() bool { return s.value != "" }

// settings are the resolved connection settings.
type settings struct {
	server, creds, nkey, user, password, token setting
	cert, key, ca, inboxPrefix                 setting
	jwt, seed                                  setting // contexts only
	tlsFirst                                   bool
	name                                       string
	context                                    string
}

const (
	levelDefault = iota
	levelContext
	levelEnv
	levelFlag
)

// resolve applies the precedence: flag, environment variable, named
// context, default; and checks the combination.
func (g *Globals) resolve() (*settings, error) {
	s := &settings{name: g.ConnectionName, tlsFirst: g.TLSFirst}
	if s.name == "" {
		s.name = "natsrpc CLI"
	}
	var ctxName, ctxFrom string
	switch {
	case g.changed(contextFlagName):
		ctxName, ctxFrom = g.Context, "--"+contextFlagName
	case g.env(contextFlagName) != "":
		ctxName, ctxFrom = g.env(contextFlagName), "$"+envOf[contextFlagName]
	}
	var nc *natsContext
	if ctxName != "" {
		var err error
		if nc, err = loadContext(ctxName, g.home); err != nil {
			return nil, fmt.Errorf("%s %q: %w", ctxFrom, ctxName, err)
		}
		s.context = nc.name
		if nc.TLSFirst {
			s.tlsFirst = true
		}
	}
	pick := func(name string, flagValue string, fromContext string) setting {
		switch {
		case g.changed(name) && flagValue != "":
			return setting{value: flagValue, from: "--" + name, level: levelFlag}
		case g.env(name) != "":
			return setting{value: g.env(name), from: "$" + envOf[name], level: levelEnv}
		case nc != nil && fromContext != "":
			return setting{value: fromContext, from: fmt.Sprintf("context %q", nc.name), level: levelContext}
		}
		return setting{}
	}
	var c natsContext
	if nc != nil {
		c = *nc
	}
	s.server = pick(serverFlagName, g.Server, c.URL)
	if !s.server.set() {
		s.server = setting{value: DefaultServer}
	}
	s.creds = pick(credsFlagName, g.Creds, c.Creds)
	s.nkey = pick(nkeyFlagName, g.NKey, c.NKey)
	s.user = pick(userFlagName, g.User, c.User)
	s.password = pick(passwordFlagName, g.Password, c.Password)
	s.token = pick(tokenFlagName, g.Token, c.Token)
	s.cert = pick(tlsCertFlagName, g.TLSCert, c.Cert)
	s.key = pick(tlsKeyFlagName, g.TLSKey, c.Key)
	s.ca = pick(tlsCAFlagName, g.TLSCA, c.CA)
	s.inboxPrefix = pick(inboxPrefixFlagName, g.InboxPrefix, c.InboxPrefix)
	if nc != nil {
		from := fmt.Sprintf("context %q", nc.name)
		if c.UserJWT != "" {
			s.jwt = setting{value: c.UserJWT, from: from, level: levelContext}
		}
		if c.UserSeed != "" {
			s.seed = setting{value: c.UserSeed, from: from, level: levelContext}
		}
	}
	for alias, name := range natscliAliases {
		if g.fs != nil && g.fs.Changed(alias) && g.fs.Changed(name) {
			return nil, fmt.Errorf("--%s is the nats CLI's spelling of --%s: give one of them", alias, name)
		}
	}
	if err := s.chooseAuth(); err != nil {
		return nil, err
	}
	switch {
	case s.cert.set() && !s.key.set():
		return nil, fmt.Errorf("%s gives a client certificate without its key: give --%s (or $NATS_KEY) too", s.cert.from, tlsKeyFlagName)
	case s.key.set() && !s.cert.set():
		return nil, fmt.Errorf("%s gives a client key without its certificate: give --%s (or $NATS_CERT) too", s.key.from, tlsCertFlagName)
	}
	if p := s.inboxPrefix.value; p != "" && (strings.ContainsAny(p, "*> \t\r\n") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..")) {
		return nil, fmt.Errorf("%s %q is not a valid inbox prefix: use subject tokens without wildcards, e.g. _INBOX_ci", s.inboxPrefix.from, p)
	}
	return s, nil
}

// authMethod is one way to authenticate and the settings that make it.
type authMethod struct {
	name   string
	fields []*setting
}

func (m authMethod) level() int {
	l := -1
	for _, f := range m.fields {
		if f.set() {
			l = max(l, f.level)
		}
	}
	return l
}

func (m authMethod) from() string {
	var out []string
	for _, f := range m.fields {
		if f.set() {
			out = append(out, f.from)
		}
	}
	return strings.Join(out, " and ")
}

// chooseAuth keeps one way to authenticate. A user name without a password
// is a token, as for the nats CLI. When several ways are given, the one
// from the highest source wins (a flag or variable overrides the named
// context's), and two at the same level are an error.
func (s *settings) chooseAuth() error {
	if s.password.set() && !s.user.set() {
		return fmt.Errorf("%s gives a password without a user: give --%s (or $NATS_USER) too", s.password.from, userFlagName)
	}
	if s.user.set() && !s.password.set() && !s.token.set() {
		// natscli: "Username or Token".
		s.token, s.user = s.user, setting{}
	}
	methods := []authMethod{
		{"credentials file", []*setting{&s.creds}},
		{"NKey seed", []*setting{&s.nkey}},
		{"user and password", []*setting{&s.user, &s.password}},
		{"token", []*setting{&s.token}},
		{"user JWT", []*setting{&s.jwt, &s.seed}},
	}
	best, bestLevel := -1, -1
	for i, m := range methods {
		l := m.level()
		switch {
		case l < 0:
		case l > bestLevel:
			best, bestLevel = i, l
		case l == bestLevel:
			return fmt.Errorf("two ways to authenticate: %s (%s) and %s (%s); give one", methods[best].name, methods[best].from(), m.name, m.from())
		}
	}
	for i, m := range methods {
		if i == best {
			continue
		}
		for _, f := range m.fields {
			*f = setting{}
		}
	}
	return nil
}

// options returns the nats.go options of the settings. Files are checked
// here so that a missing one is named with where it came from; secrets
// never appear in an error.
func (s *settings) options() ([]nats.Option, error) {
	opts := []nats.Option{nats.Name(s.name), nats.Timeout(connectTimeout)}
	auth, err := s.authOptions()
	if err != nil {
		return nil, err
	}
	opts = append(opts, auth...)
	if s.cert.set() {
		cert, err := filePath(s.cert, "client certificate")
		if err != nil {
			return nil, err
		}
		key, err := filePath(s.key, "client key")
		if err != nil {
			return nil, err
		}
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			return nil, fmt.Errorf("%s and %s: not a PEM certificate and its private key: %v", s.cert.from, s.key.from, scrub(err))
		}
		opts = append(opts, nats.ClientCert(cert, key))
	}
	if s.ca.set() {
		ca, err := filePath(s.ca, "CA certificate")
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", s.ca.from, ca, err)
		}
		if block, _ := pem.Decode(data); block == nil || !x509.NewCertPool().AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("%s %q holds no PEM certificate", s.ca.from, ca)
		}
		opts = append(opts, nats.RootCAs(ca))
	}
	if s.tlsFirst {
		opts = append(opts, nats.TLSHandshakeFirst())
	}
	if s.inboxPrefix.set() {
		opts = append(opts, nats.CustomInboxPrefix(s.inboxPrefix.value))
	}
	return opts, nil
}

// scrub keeps the first line of an error about key material, which never
// quotes the material itself in crypto/tls's messages.
func scrub(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// authOptions returns the nats.go options that authenticate: credentials,
// NKey, user and password, token or user JWT; no TLS, no server.
func (s *settings) authOptions() ([]nats.Option, error) {
	var opts []nats.Option
	if s.creds.set() {
		opt, err := credsOption(s.creds)
		if err != nil {
			return nil, err
		}
		opts = append(opts, opt)
	}
	if s.nkey.set() {
		opt, err := nkeyOption(s.nkey)
		if err != nil {
			return nil, err
		}
		opts = append(opts, opt)
	}
	if s.user.set() {
		pw, err := literal(s.password)
		if err != nil {
			return nil, err
		}
		user, err := literal(s.user)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.UserInfo(user, pw))
	}
	if s.token.set() {
		tok, err := literal(s.token)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Token(tok))
	}
	if s.jwt.set() {
		jwt, err := literal(s.jwt)
		if err != nil {
			return nil, err
		}
		if s.seed.set() {
			seed, err := literal(s.seed)
			if err != nil {
				return nil, err
			}
			kp, err := nkeys.FromSeed([]byte(seed))
			if err != nil {
				return nil, fmt.Errorf("%s: user_seed is not an NKey seed", s.seed.from)
			}
			opts = append(opts, nats.UserJWT(func() (string, error) { return jwt, nil }, kp.Sign))
		} else {
			// A bearer JWT: the server does not ask for a signature.
			opts = append(opts, nats.UserJWT(func() (string, error) { return jwt, nil }, func([]byte) ([]byte, error) { return nil, nil }))
		}
	}
	return opts, nil
}
