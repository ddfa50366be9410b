package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/workload"
)

// Gateway is a `natsrpc gateway` process: the command as an operator runs
// it, in a process of its own so that its CPU is measured apart from the
// caller's and the service's.
type Gateway struct {
	URL string
	// CPU returns the gateway process's CPU time so far.
	CPU  func() time.Duration
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartGateway starts bin (a natsrpc binary) as `natsrpc gateway` on a
// loopback port, serving the benchmark's two services from a descriptor
// set written to dir, with the services on natsURL.
func StartGateway(bin, natsURL, dir string) (*Gateway, error) {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, c := range workload.Calls {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(c.Service))
		if err != nil {
			return nil, err
		}
		add(d.ParentFile())
	}
	b, err := proto.Marshal(set)
	if err != nil {
		return nil, err
	}
	setFile := dir + "/gateway.binpb"
	if err := os.WriteFile(setFile, b, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-s", natsURL, "gateway", "--descriptor-set", setFile, "--listen", "127.0.0.1:0", "--max-in-flight", "100000", "--subject-prefix", NatsrpcPrefix)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the gateway: %w", err)
	}
	g := &Gateway{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`serving on (http://127\.0\.0\.1:\d+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		g.err = cmd.Wait()
		close(g.done)
	}()
	select {
	case g.URL = <-addr:
	case <-g.done:
		return nil, fmt.Errorf("the gateway exited: %v", g.err)
	case <-time.After(30 * time.Second):
		g.Stop()
		return nil, errors.New("the gateway did not serve within 30s")
	}
	pid := cmd.Process.Pid
	g.CPU = func() time.Duration { return harness.PIDCPU(pid) }
	return g, nil
}

// Stop sends SIGTERM, as an orchestrator does, and waits for the graceful
// shutdown; it reports an exit other than 0.
func (g *Gateway) Stop() error {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(40 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
		return errors.New("the gateway did not stop within 40s of SIGTERM")
	}
	if g.err != nil {
		return fmt.Errorf("the gateway's exit after SIGTERM: %v", g.err)
	}
	return nil
}

// NewGateway is the gateway row: the caller posts JSON over HTTP/1.1
// (keep-alive, as the net/http row) to the gateway's Connect route of the
// method (POST /<service>/<method>, application/json, protojson); the
// gateway transcodes it once and forwards binary protobuf over NATS to
// the same generated natsrpc handler as the natsrpc row; the answer comes
// back the same way and the caller decodes it with protojson.
func NewGateway(env Env, call *workload.Call) (*harness.Target, error) {
	if env.GatewayURL == "" {
		return nil, errors.New("the gateway row needs a gateway process (Env.GatewayURL)")
	}
	return newGatewayTarget(env, call, "gateway", env.GatewayURL, env.GatewayCPU)
}

// NewGatewayBaseline is the gateway row against the baseline process
// (Env.BaselineURL): the same caller, another gateway binary.
func NewGatewayBaseline(env Env, call *workload.Call) (*harness.Target, error) {
	if env.BaselineURL == "" {
		return nil, errors.New("the gatewaybase row needs a baseline gateway binary (benchtable -gateway-baseline BIN)")
	}
	return newGatewayTarget(env, call, "gatewaybase", env.BaselineURL, env.BaselineCPU)
}

func newGatewayTarget(env Env, call *workload.Call, name, gatewayURL string, gatewayCPU func() time.Duration) (*harness.Target, error) {
	service, err := NewNatsrpc(env, call)
	if err != nil {
		return nil, err
	}
	client := httpClient()
	wire := harness.NewCounter(nil)
	client.Transport.(*http.Transport).DialContext = func(_ context.Context, network, addr string) (net.Conn, error) {
		return harness.Dialer{C: wire}.Dial(network, addr)
	}
	url := gatewayURL + "/" + call.Service + "/" + call.Name
	req := call.Request()
	res := call.Handle(call.Request())
	return &harness.Target{
		Name: name,
		Call: func(ctx context.Context) error {
			body, err := protojson.Marshal(req)
			if err != nil {
				return err
			}
			b, err := postJSON(ctx, client, url, body, "Connect-Protocol-Version", "1")
			if err != nil {
				return err
			}
			out := res.ProtoReflect().New().Interface()
			if err := protojson.Unmarshal(b, out); err != nil {
				return err
			}
			return call.Check(out)
		},
		CallerWire: wire,
		ServerCPU:  env.NATSCPU,
		ProxyCPU:   gatewayCPU,
		Close: func() {
			client.CloseIdleConnections()
			service.Close()
		},
	}, nil
}
