package regctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	natsd "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsrpc/natsrpc/internal/natsserver"
	"github.com/natsrpc/natsrpc/registry/client"
	"github.com/natsrpc/natsrpc/registry/server"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// ServeConfig says how to run a registry.
type ServeConfig struct {
	// Embedded starts an in-process NATS server with JetStream, fsyncing
	// every write (sync_always), with its data in DataDir, listening on
	// Listen (HOST:PORT), and serves the registry on it.
	Embedded bool
	// DataDir is the embedded server's JetStream directory.
	DataDir string
	// Listen is the embedded server's client address.
	Listen string
	// ServerConfig is a nats-server configuration file for the embedded
	// server (TLS, authorization, accounts, limits). Listen, DataDir and
	// JetStream's fsync still come from the fields above.
	ServerConfig string
	// EmbeddedOptions returns the options of the registry's in-process
	// connection to its embedded server when ServerConfig asks for TLS or
	// authentication (the CA, a client certificate, a user, credentials,
	// an NKey, a token); nil connects without.
	EmbeddedOptions func() ([]nats.Option, error)
	// Connect connects to an existing NATS server when not Embedded.
	Connect func(ctx context.Context) (*nats.Conn, error)
	// Bucket is the registry's KV bucket; empty means the default.
	Bucket string
	// Replicas is the replica count of the registry's streams; 0 keeps the
	// count of existing streams and creates new ones with 1.
	Replicas int
	// PushInput and PushModule, when both set, push an input (e.g. a
	// directory of .proto files) as a version of a module once the
	// registry serves, through its API; an unchanged input stores nothing.
	PushInput, PushModule string
	// Logger receives the server's operational warnings.
	Logger *slog.Logger
	// Warn, when set, receives one-line warnings about what Serve is
	// waiting for while it starts (a NATS server without JetStream), so
	// that a start that keeps retrying never does so silently.
	Warn func(msg string)
}

// Serving is a running registry.
type Serving struct {
	// URL is the NATS URL clients connect to, with any password or token
	// redacted.
	URL string
	// DataDir is the embedded server's data directory; empty when not
	// embedded.
	DataDir string
	// Bucket is the registry's KV bucket.
	Bucket string
	// Pushed is the outcome of the push on start; nil without one.
	Pushed *PushResult

	srv  *natsd.Server
	nc   *nats.Conn
	api  *server.Server
	lock *os.File // the data directory's lock, held while serving
}

// Serve starts a registry as cfg says and returns once it serves (and
// the push on start, if any, is done). Stop it with [Serving.Stop].
func Serve(ctx context.Context, cfg ServeConfig) (_ *Serving, retErr error) {
	s := &Serving{}
	defer func() {
		if retErr != nil {
			s.close()
		}
	}()
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Embedded && cfg.Replicas > 1 {
		return nil, fmt.Errorf("--replicas %d needs a NATS cluster of at least %d servers, and the embedded server is a single server: leave --replicas out (or give 1) with --embedded, or serve on your cluster: natsrpc registry serve -s nats://n1:4222,nats://n2:4222,nats://n3:4222 --replicas %d", cfg.Replicas, cfg.Replicas, cfg.Replicas)
	}
	if cfg.Embedded {
		if err := s.startEmbedded(cfg); err != nil {
			return nil, err
		}
	} else {
		if cfg.Connect == nil {
			return nil, errors.New("no NATS connection configured")
		}
		nc, err := cfg.Connect(ctx)
		if err != nil {
			return nil, err
		}
		s.nc = nc
		// Printed: without the password or token (ConnectedUrlRedacted
		// keeps a token).
		s.URL = RedactURLs(nc.ConnectedUrl())
	}
	js, err := jetstream.New(s.nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if !cfg.Embedded && cfg.Warn != nil {
		if msg := checkJetStream(ctx, js, s.URL); msg != "" {
			cfg.Warn(msg)
		}
	}
	var ropts []store.Option
	if cfg.Bucket != "" {
		ropts = append(ropts, store.WithBucket(cfg.Bucket))
	}
	if cfg.Replicas != 0 { // a negative count fails in store.New
		ropts = append(ropts, store.WithReplicas(cfg.Replicas))
	}
	reg, err := store.New(ctx, js, ropts...)
	if err != nil {
		if cfg.Replicas > 1 && store.KindOf(err) == store.KindInvalidArgument {
			return nil, fmt.Errorf("--replicas %d: %w", cfg.Replicas, err)
		}
		if !cfg.Embedded {
			return nil, fmt.Errorf("%w (does the NATS server at %s run JetStream, version 2.12 or later?)", err, s.URL)
		}
		return nil, err
	}
	s.Bucket = reg.Bucket()
	api, err := server.New(s.nc, reg, server.WithLogger(cfg.Logger))
	if err != nil {
		return nil, err
	}
	s.api = api
	if cfg.PushInput != "" && cfg.PushModule != "" {
		res, err := Push(ctx, client.New(s.nc, client.WithBucket(reg.Bucket())), cfg.PushInput, cfg.PushModule, false)
		if err != nil {
			return nil, fmt.Errorf("push %q as module %q: %w", cfg.PushInput, cfg.PushModule, err)
		}
		s.Pushed = res
	}
	return s, nil
}

// checkJetStream asks the NATS server at url for its JetStream account
// information and returns what is wrong, or "" when JetStream answers.
// Opening the registry's buckets retries until JetStream answers (a
// cluster electing a leader answers late, a server may be restarted with
// JetStream on), so without this a server without JetStream would be
// waited on silently forever.
func checkJetStream(ctx context.Context, js jetstream.JetStream, url string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := js.AccountInfo(ctx)
	const waiting = "; waiting for JetStream to answer (Ctrl-C to stop)"
	switch {
	case err == nil || errors.Is(err, context.Canceled):
		return ""
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		return fmt.Sprintf("the NATS server at %s does not run JetStream, where the registry keeps its data: start it with JetStream (nats-server -js, or a jetstream {} block in its configuration), or run `natsrpc registry serve --embedded`%s", url, waiting)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fmt.Sprintf("the NATS server at %s runs JetStream, but not for the account this connection uses: give the account JetStream limits, or connect as a user of an account that has them (--creds)%s", url, waiting)
	default:
		return fmt.Sprintf("JetStream at %s does not answer yet (%v): it may be starting or electing a leader, or the server may not run JetStream%s", url, err, waiting)
	}
}

func (s *Serving) startEmbedded(cfg ServeConfig) error {
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen address %q: want HOST:PORT, e.g. 127.0.0.1:4222: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("listen address %q: the port must be a number from 0 to 65535", cfg.Listen)
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data directory %q: %w", cfg.DataDir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data directory %q: %w", cfg.DataDir, err)
	}
	lock, err := lockDataDir(dir)
	if errors.Is(err, errDataDirInUse) {
		return fmt.Errorf("%w; two servers on one data directory lose acknowledged writes: stop the other one, or give this one its own directory and address, e.g. --data-dir %s --listen %s (make run DATA_DIR=%s LISTEN=%s)",
			err, secondDir(cfg.DataDir), nextAddress(cfg.Listen), secondDir(cfg.DataDir), nextAddress(cfg.Listen))
	}
	if err != nil {
		return err
	}
	s.lock = lock
	ncfg := natsserver.Config{
		Host:       host,
		Port:       port,
		ServerName: "natsrpc-embedded",
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: true,
	}
	if cfg.ServerConfig != "" {
		configure, err := serverConfig(cfg.ServerConfig)
		if err != nil {
			return err
		}
		ncfg.Configure = configure
	}
	srv, err := natsserver.Start(ncfg)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "not ready") {
			return fmt.Errorf("cannot listen on %s: another registry or NATS server runs there: stop it, or give this one its own address and data directory, e.g. --listen %s --data-dir %s (make run LISTEN=%s DATA_DIR=%s): %w",
				cfg.Listen, nextAddress(cfg.Listen), secondDir(cfg.DataDir), nextAddress(cfg.Listen), secondDir(cfg.DataDir), err)
		}
		return err
	}
	s.srv = srv
	s.DataDir = dir
	s.URL = srv.ClientURL()
	// The registry itself talks to its embedded server in process, with
	// the TLS and the user the connection flags give when the server's
	// configuration requires them.
	copts := []nats.Option{nats.InProcessServer(srv), nats.Name("natsrpc registry")}
	if cfg.EmbeddedOptions != nil {
		auth, err := cfg.EmbeddedOptions()
		if err != nil {
			return err
		}
		copts = append(copts, auth...)
	}
	nc, err := nats.Connect(s.URL, copts...)
	if err != nil {
		if cfg.ServerConfig != "" {
			return fmt.Errorf("connect to the embedded NATS server: %w: the server of --server-config %s may require TLS and a user: give the registry's connection what it accepts, with --tls-ca, --tls-cert and --tls-key, and --user (with $NATS_PASSWORD), --creds, --nkey or --token", err, cfg.ServerConfig)
		}
		return fmt.Errorf("connect to the embedded NATS server: %w", err)
	}
	s.nc = nc
	return nil
}

// Stop stops serving: the API drains its requests in flight (until ctx
// ends), then the connection and the embedded server, if any, close.
func (s *Serving) Stop(ctx context.Context) error {
	var err error
	if s.api != nil {
		err = s.api.Stop(ctx)
	}
	s.close()
	return err
}

func (s *Serving) close() {
	if s.nc != nil {
		_ = s.nc.Drain()
		deadline := time.Now().Add(5 * time.Second)
		for !s.nc.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		s.nc.Close()
	}
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
	}
	if s.lock != nil {
		_ = s.lock.Close() // releases the flock, after the server stopped writing
	}
}

// secondDir suggests a data directory for a second instance.
func secondDir(dir string) string {
	return strings.TrimRight(filepath.Clean(dir), "/") + "-2"
}

// nextAddress suggests a listen address for a second instance: the port
// after listen's.
func nextAddress(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "127.0.0.1:4223"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p >= 65535 {
		return net.JoinHostPort(host, "0")
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1))
}

// serverConfig reads a nats-server configuration file and returns the
// function that makes it the embedded server's options: everything the
// file says (TLS, authorization, accounts, resolver, limits), with the
// listen address, the server name when the file names none, and
// JetStream (its directory and fsync of every write) as the embedded
// registry needs them.
func serverConfig(path string) (func(*natsd.Options), error) {
	fileOpts, err := natsd.ProcessConfigFile(path)
	if err != nil {
		return nil, fmt.Errorf("--server-config %s: %w", path, err)
	}
	return func(o *natsd.Options) {
		host, port, name, dir := o.Host, o.Port, o.ServerName, o.StoreDir
		*o = *fileOpts
		o.Host, o.Port = host, port
		if o.ServerName == "" {
			o.ServerName = name
		}
		o.JetStream, o.StoreDir, o.SyncAlways = true, dir, true
		o.DisableJetStreamBanner = true
		o.NoSigs = true
	}, nil
}
