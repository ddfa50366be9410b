package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/workload"
	"github.com/natsrpc/natsrpc/proto/gaming/npc_behavior/v1/npcbehaviorv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
)

// The bridge rows compare a NATS caller reaching a service still on HTTP
// through `natsrpc bridge` with calling that HTTP service directly. The
// HTTP service speaks the JSON the bridge speaks: protojson with proto
// field names (what a FastAPI service's pydantic models read and write),
// on POST /<service>/<method>, the bridge's default route. The workload's
// hand-written JSON structs (the httpjson row) use other conventions
// (camelCase, short enum names), so both bridge rows use this service.

var legacyJSON = protojson.MarshalOptions{UseProtoNames: true}

// serveLegacy serves call as a legacy HTTP/JSON service.
func serveLegacy(call *workload.Call) (url string, wire *harness.Counter, stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /"+call.Service+"/"+call.Name, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := call.NewRequest()
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, req); err != nil {
			http.Error(w, `{"detail": "`+err.Error()+`"}`, http.StatusUnprocessableEntity)
			return
		}
		out, err := legacyJSON.Marshal(call.Handle(req))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
	return serveHTTP(mux)
}

// NewHTTPProtoJSON calls the bridge rows' HTTP service directly: the
// caller posts protojson (proto names) and decodes the answer with
// protojson, over HTTP/1.1 keep-alive.
func NewHTTPProtoJSON(_ Env, call *workload.Call) (*harness.Target, error) {
	base, wire, stop, err := serveLegacy(call)
	if err != nil {
		return nil, err
	}
	client := httpClient()
	url := base + "/" + call.Service + "/" + call.Name
	req := call.Request()
	return &harness.Target{
		Name: "httpprotojson",
		Call: func(ctx context.Context) error {
			body, err := legacyJSON.Marshal(req)
			if err != nil {
				return err
			}
			b, err := postJSON(ctx, client, url, body)
			if err != nil {
				return err
			}
			out := call.NewResponse()
			if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, out); err != nil {
				return err
			}
			return call.Check(out)
		},
		CallerWire: wire,
		Close: func() {
			client.CloseIdleConnections()
			stop()
		},
	}, nil
}

// NewBridge is the bridge row: the generated natsrpc client calls over
// NATS a `natsrpc bridge` process (a process of its own, so that its CPU
// is measured apart) serving the method by calling the same HTTP service
// as the httpprotojson row.
func NewBridge(env Env, call *workload.Call) (*harness.Target, error) {
	if env.NatsrpcBin == "" || env.Dir == "" {
		return nil, errors.New("the bridge row needs the natsrpc binary (Env.NatsrpcBin) and a directory (Env.Dir)")
	}
	base, _, stopHTTP, err := serveLegacy(call)
	if err != nil {
		return nil, err
	}
	setFile, err := writeDescriptorSet(env.Dir, call)
	if err != nil {
		stopHTTP()
		return nil, err
	}
	p, err := startProcess(env.NatsrpcBin, "press Ctrl-C", "-s", env.NATSURL, "bridge", "--service", call.Service, "--http", base,
		"--descriptor-set", setFile, "--max-in-flight", "1024", "--subject-prefix", BridgePrefix)
	if err != nil {
		stopHTTP()
		return nil, fmt.Errorf("natsrpc bridge: %w", err)
	}
	// The client only: the bridge is the service.
	server, client, callerWire, allWire, err := natsPair(env.NATSURL)
	if err != nil {
		_ = p.stop()
		stopHTTP()
		return nil, err
	}
	server.Close()
	var do func(context.Context) error
	copts := append([]natsrpc.ClientOption{natsrpc.WithSubjectPrefix(BridgePrefix)}, NatsrpcClientOptions...)
	switch call {
	case workload.DecideCall:
		c := npcbehaviorv1natsrpc.NewNPCBehaviorServiceClient(client, copts...)
		do = unary(call, workload.DecideRequest(), c.Decide)
	case workload.GenerateQuestCall:
		c := questsystemv1natsrpc.NewQuestSystemServiceClient(client, copts...)
		do = unary(call, workload.GenerateQuestRequest(), c.GenerateQuest)
	default:
		err = errors.New("no natsrpc stubs for " + call.Name)
	}
	if err != nil {
		_ = p.stop()
		stopHTTP()
		client.Close()
		return nil, err
	}
	return &harness.Target{
		Name:       "bridge",
		Call:       do,
		CallerWire: callerWire,
		AllWire:    allWire,
		ServerCPU:  env.NATSCPU,
		ProxyCPU:   p.cpu,
		Close: func() {
			if err := p.stop(); err != nil {
				fmt.Fprintf(os.Stderr, "natsrpc bridge: %v\n", err)
			}
			client.Close()
			stopHTTP()
		},
	}, nil
}

// writeDescriptorSet writes the descriptor set of call's service file and
// its imports.
func writeDescriptorSet(dir string, call *workload.Call) (string, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(call.Service))
	if err != nil {
		return "", err
	}
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
	add(d.ParentFile())
	b, err := proto.Marshal(set)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, strings.ReplaceAll(call.Service, ".", "_")+".binpb")
	return path, os.WriteFile(path, b, 0o644)
}

// process is a natsrpc command run in a process of its own.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	cpu  func() time.Duration
}

// startProcess runs bin with args and waits for ready on its stdout.
func startProcess(bin, ready string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	up := make(chan struct{}, 1)
	var banner strings.Builder
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			banner.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), ready) {
				up <- struct{}{}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case <-up:
	case <-p.done:
		return nil, fmt.Errorf("exited: %v", p.err)
	case <-time.After(30 * time.Second):
		_ = p.stop()
		return nil, errors.New("not ready within 30s")
	}
	pid := cmd.Process.Pid
	p.cpu = func() time.Duration { return harness.PIDCPU(pid) }
	return p, nil
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("did not stop within 40s of SIGTERM")
	}
	if p.err != nil {
		return fmt.Errorf("exit after SIGTERM: %v", p.err)
	}
	return nil
}
