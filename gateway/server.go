package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// ServerOptions configure [Serve].
type ServerOptions struct {
	// ReadTimeout bounds reading a request, its body included (for a
	// client or bidi stream, the whole upload); 0 means none. The headers
	// always have at most 10 seconds.
	ReadTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long; 0 means
	// two minutes.
	IdleTimeout time.Duration
	// DrainTimeout bounds the wait for calls in progress at shutdown; 0
	// means 30 seconds. Calls still running then are cut.
	DrainTimeout time.Duration
	// TLS, when set, serves HTTPS (HTTP/1.1 and HTTP/2 over TLS) instead
	// of HTTP and h2c; see [TLSConfig].
	TLS *tls.Config
}

// TLSConfig returns the TLS configuration of an HTTPS gateway: its
// certificate and key (PEM files) and, when clientCA is set, the CA
// certificates (PEM) that must have signed every client's certificate
// (mutual TLS: clients without one are refused during the handshake).
func TLSConfig(certFile, keyFile, clientCA string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--http-tls-cert and --http-tls-key go together: give both to serve HTTPS")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return nil, fmt.Errorf("--http-tls-cert %q and --http-tls-key %q: not a PEM certificate and its private key: %s", certFile, keyFile, msg)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		data, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("--http-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("--http-client-ca %q holds no PEM certificate", clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Serve serves g on ln, HTTP/1.1 and HTTP/2 without TLS (h2c, which gRPC
// clients use with -plaintext), or with o.TLS over TLS, until ctx ends. Then it shuts down
// gracefully: /readyz turns 503, new connections are refused, and calls
// in progress finish (within DrainTimeout) before Serve returns nil.
func Serve(ctx context.Context, ln net.Listener, g *Gateway, o ServerOptions) error {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 30 * time.Second
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if o.TLS != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	header := 10 * time.Second
	if o.ReadTimeout > 0 && o.ReadTimeout < header {
		header = o.ReadTimeout
	}
	srv := &http.Server{
		Handler:           g,
		Protocols:         &protocols,
		ReadTimeout:       o.ReadTimeout,
		ReadHeaderTimeout: header,
		IdleTimeout:       o.IdleTimeout,
	}
	errc := make(chan error, 1)
	if o.TLS != nil {
		srv.TLSConfig = o.TLS.Clone()
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	g.Drain()
	drain, cancel := context.WithTimeout(context.Background(), o.DrainTimeout)
	defer cancel()
	err := srv.Shutdown(drain)
	if errors.Is(err, context.DeadlineExceeded) {
		_ = srv.Close()
		err = fmt.Errorf("gateway: calls still running after %s were cut", o.DrainTimeout)
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// ReadDescriptorSet reads a serialized FileDescriptorSet or buf image
// (buf build -o FILE.binpb), whose files carry extra fields that are
// dropped.
func ReadDescriptorSet(path string) (*descriptorpb.FileDescriptorSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("descriptor set: %w", err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, set); err != nil {
		return nil, fmt.Errorf("descriptor set %q is not a serialized FileDescriptorSet or buf image (build one with buf build -o FILE.binpb or protoc --include_imports -o FILE): %w", path, err)
	}
	if len(set.GetFile()) == 0 {
		return nil, fmt.Errorf("descriptor set %q has no files", path)
	}
	return set, nil
}
