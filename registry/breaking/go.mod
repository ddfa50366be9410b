module github.com/natsrpc/natsrpc/registry/breaking

go 1.26.0

require (
	github.com/bufbuild/protocompile v0.14.1
	go.yaml.in/yaml/v3 v3.0.6
	google.golang.org/protobuf v1.36.12
)

require golang.org/x/sync v0.22.0 // indirect

require (
	github.com/natsrpc/natsrpc v0.0.0-00010101000000-000000000000
	github.com/natsrpc/natsrpc/internal/testkit v0.0.0-00010101000000-000000000000
)

replace (
	github.com/natsrpc/natsrpc => ../..
	github.com/natsrpc/natsrpc/internal/natsserver => ../../internal/natsserver
	github.com/natsrpc/natsrpc/internal/testkit => ../../internal/testkit
)
