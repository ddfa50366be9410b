package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/fleet"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/schema"
	"github.com/natsrpc/natsrpc/registry/client"
)

const (
	moduleFlagName        = "module"
	descriptorSetFlagName = "descriptor-set"
	reflectFlagName       = "reflect"
	subjectPrefixFlagName = "subject-prefix"
)

// SchemaFlags say where the commands that call and watch services
// (`call`, `template`, `services`, `tap`) find descriptors: the registry's
// latest version of every module (the default), one module version
// (--module), a descriptor set file (--descriptor-set) or the running
// instances (--reflect). Without a registry (nothing answers on its
// subjects) the default falls back to the running instances.
type SchemaFlags struct {
	Module        string
	DescriptorSet string
	Reflect       bool
	SubjectPrefix string
}

// Bind registers the flags.
func (f *SchemaFlags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.Module, moduleFlagName, "", "Take descriptors from this registry module, MODULE or MODULE@VERSION (default: the latest version of every module)")
	fs.StringVar(&f.DescriptorSet, descriptorSetFlagName, "", "Take descriptors from this FileDescriptorSet or buf image (buf build -o FILE.binpb, natsrpc get) instead of the registry")
	fs.BoolVar(&f.Reflect, reflectFlagName, false, "Take descriptors from the running service instances ($SRV.SCHEMA) instead of the registry")
	fs.StringVar(&f.SubjectPrefix, subjectPrefixFlagName, "", "The runtime subject prefix the services run with (natsrpc.WithSubjectPrefix)")
}

// Check reports flags that exclude each other, and a malformed --module.
func (f *SchemaFlags) Check() error {
	n := 0
	for _, set := range []bool{f.Module != "", f.DescriptorSet != "", f.Reflect} {
		if set {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("--%s, --%s and --%s each name where descriptors come from: give one of them", moduleFlagName, descriptorSetFlagName, reflectFlagName)
	}
	if f.Module != "" {
		if _, err := regctl.ParseModuleRef(f.Module); err != nil {
			return fmt.Errorf("--%s: %w", moduleFlagName, err)
		}
	}
	return nil
}

// NeedsNATS reports whether the source needs a NATS connection.
func (f *SchemaFlags) NeedsNATS() bool { return f.DescriptorSet == "" }

// Source returns the source the flags ask for; nc may be nil with
// --descriptor-set. Notices (the fallback to the instances) go to stderr.
func (f *SchemaFlags) Source(nc *nats.Conn, g *Globals, stderr io.Writer) (schema.Source, error) {
	gather := fleet.Gather{}
	const schemaTimeout = 3 * time.Second
	switch {
	case f.DescriptorSet != "":
		return schema.File(f.DescriptorSet)
	case f.Reflect:
		return schema.Instances(nc, gather, schemaTimeout), nil
	case f.Module != "":
		ref, err := regctl.ParseModuleRef(f.Module)
		if err != nil {
			return nil, err
		}
		return schema.Registry(client.New(nc), ref, g.Server), nil
	}
	if nc == nil {
		return nil, errors.New("no NATS connection for the registry")
	}
	return schema.Fallback(schema.Registry(client.New(nc), regctl.ModuleRef{}, g.Server), schema.Instances(nc, gather, schemaTimeout), func(s string) {
		fmt.Fprintf(stderr, "natsrpc: notice: %s\n", s)
	}), nil
}

// OpenSource connects to NATS when the flags need it and returns their
// source and a function that closes the connection.
func OpenSource(ctx context.Context, g *Globals, f *SchemaFlags, stderr io.Writer) (schema.Source, func(), error) {
	var nc *nats.Conn
	if f.NeedsNATS() {
		var err error
		if nc, err = g.Connect(ctx); err != nil {
			return nil, nil, err
		}
	}
	closeConn := func() {
		if nc != nil {
			nc.Close()
		}
	}
	src, err := f.Source(nc, g, stderr)
	if err != nil {
		closeConn()
		return nil, nil, err
	}
	return src, closeConn, nil
}
