// Package natsserver starts an in-process nats-server, optionally with
// JetStream, for the CLI's --embedded mode, for `make run` and for tests.
//
// It is internal because the runtime that services import must never pull in
// nats-server: only the registry command and tests use it.
package natsserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config says how to start the server. The zero value starts a server
// without JetStream on a random loopback port.
type Config struct {
	// Host is the interface to listen on. Defaults to 127.0.0.1.
	Host string
	// Port is the client port. 0 picks a free port.
	Port int
	// ServerName names the server; required for clustering. Defaults to a
	// name nats-server generates.
	ServerName string
	// JetStream enables JetStream, storing data in StoreDir.
	JetStream bool
	// StoreDir is the JetStream storage directory. Required with JetStream.
	StoreDir string
	// SyncAlways makes JetStream fsync every write before acknowledging it,
	// so an acknowledged write survives a power loss, not only a process
	// crash. It costs write throughput.
	SyncAlways bool
	// Cluster, when set, joins the server to a cluster.
	Cluster *ClusterConfig
	// MaxPayload overrides the server's maximum message payload (default
	// 1 MB).
	MaxPayload int32
	// Logging turns on the server's own log output (to stderr).
	Logging bool
	// ReadyTimeout bounds how long Start waits for the server to accept
	// connections. Defaults to 10 seconds.
	ReadyTimeout time.Duration
	// Configure, when set, may adjust the server options just before the
	// server is created (authorization, TLS, limits in tests).
	Configure func(*server.Options)
}

// ClusterConfig joins an embedded server to a NATS cluster.
type ClusterConfig struct {
	// Name is the cluster name, the same on every member.
	Name string
	// Host and Port are where this member listens for routes. Port 0 picks
	// a free port.
	Host string
	Port int
	// Routes are the route URLs of the other members, e.g.
	// "nats://127.0.0.1:6222".
	Routes []string
}

// Start starts a server and waits until it accepts connections.
func Start(cfg Config) (*server.Server, error) {
	opts, err := Options(cfg)
	if err != nil {
		return nil, err
	}
	if opts.Port > 0 {
		// nats-server reports a port it cannot listen on only in its log,
		// and ReadyForConnections would then wait out its whole timeout:
		// try the address first so that a busy port fails at once.
		addr := net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("embedded nats-server: cannot listen on %s: %w", addr, err)
		}
		_ = l.Close()
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	if cfg.Logging {
		srv.ConfigureLogger()
	}
	srv.Start()
	timeout := cfg.ReadyTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	if !srv.ReadyForConnections(timeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats-server on %s: not ready after %s", net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)), timeout)
	}
	return srv, nil
}

// Options turns a Config into nats-server options.
func Options(cfg Config) (*server.Options, error) {
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := cfg.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       host,
		Port:       port,
		NoSigs:     true,
		NoLog:      !cfg.Logging,
		MaxPayload: cfg.MaxPayload,
		// The embedded server answers on loopback only by default; there
		// is no HTTP monitoring port.
		HTTPPort: 0,
	}
	if cfg.JetStream {
		if cfg.StoreDir == "" {
			return nil, errors.New("embedded nats-server: jetstream needs a storage directory")
		}
		opts.JetStream = true
		opts.StoreDir = cfg.StoreDir
		opts.SyncAlways = cfg.SyncAlways
		opts.DisableJetStreamBanner = true
	}
	if c := cfg.Cluster; c != nil {
		if cfg.ServerName == "" {
			return nil, errors.New("embedded nats-server: a cluster member needs a server name")
		}
		chost := c.Host
		if chost == "" {
			chost = host
		}
		cport := c.Port
		if cport == 0 {
			cport = server.RANDOM_PORT
		}
		opts.Cluster = server.ClusterOpts{Name: c.Name, Host: chost, Port: cport}
		opts.Routes = server.RoutesFromStr(strings.Join(c.Routes, ","))
	}
	if cfg.Configure != nil {
		cfg.Configure(opts)
	}
	return opts, nil
}
