module github.com/natsrpc/natsrpc/cmd/natsrpc

go 1.26.0

require (
	github.com/bufbuild/protocompile v0.14.1
	github.com/nats-io/nats-server/v2 v2.15.2
	github.com/nats-io/nats.go v1.55.0
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/spf13/cobra v1.10.2
	github.com/spf13/pflag v1.0.9
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	google.golang.org/protobuf v1.36.12
)

require (
	connectrpc.com/connect v1.21.1 // indirect
	connectrpc.com/grpcreflect v1.3.1 // indirect
	connectrpc.com/vanguard v0.4.0 // indirect
	github.com/antithesishq/antithesis-sdk-go v0.8.0-default-no-op // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/time v0.16.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261104224025-d1e00e9f33ab // indirect
)

require (
	github.com/klauspost/compress v1.20.3
	github.com/nats-io/jwt/v2 v2.8.2
	github.com/nats-io/nkeys v0.4.16
	github.com/natsrpc/natsrpc v0.0.0
	github.com/natsrpc/natsrpc/contrib/shadow v0.0.0-00010101000000-000000000000
	github.com/natsrpc/natsrpc/gateway v0.0.0-00010101000000-000000000000
	github.com/natsrpc/natsrpc/internal/natsserver v0.0.0-00010101000000-000000000000
	github.com/natsrpc/natsrpc/internal/testkit v0.0.0-00010101000000-000000000000
	github.com/natsrpc/natsrpc/registry/breaking v0.0.0-00010101000000-000000000000
	github.com/natsrpc/natsrpc/registry/server v0.0.0-00010101000000-000000000000
	google.golang.org/genproto/googleapis/api v0.0.0-20261110000943-09e21b237f2c
)

replace (
	github.com/natsrpc/natsrpc => ../..
	github.com/natsrpc/natsrpc/gateway => ../../gateway
	github.com/natsrpc/natsrpc/internal/natsserver => ../../internal/natsserver
	github.com/natsrpc/natsrpc/internal/testkit => ../../internal/testkit
	github.com/natsrpc/natsrpc/registry/breaking => ../../registry/breaking
	github.com/natsrpc/natsrpc/registry/server => ../../registry/server
)

replace github.com/natsrpc/natsrpc/contrib/shadow => ../../contrib/shadow
