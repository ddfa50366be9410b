module github.com/natsrpc/natsrpc

go 1.26.0

require (
	github.com/bufbuild/protocompile v0.14.1
	github.com/nats-io/nats-server/v2 v2.15.2
	github.com/nats-io/nats.go v1.55.0
	github.com/nats-io/nuid v1.0.1
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/antithesishq/antithesis-sdk-go v0.8.0-default-no-op // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nats-io/jwt/v2 v2.8.2 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/natsrpc/natsrpc/registry/breaking v0.0.0-00010101000000-000000000000 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/time v0.16.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20261110000943-09e21b237f2c // indirect
)

require (
	github.com/klauspost/compress v1.20.3
	github.com/natsrpc/natsrpc/internal/natsserver v0.0.0-00010101000000-000000000000
	github.com/natsrpc/natsrpc/internal/testkit v0.0.0-00010101000000-000000000000
	github.com/natsrpc/natsrpc/registry/server v0.0.0-00010101000000-000000000000
	golang.org/x/mod v0.33.0
)

replace (
	github.com/natsrpc/natsrpc/internal/natsserver => ./internal/natsserver
	github.com/natsrpc/natsrpc/internal/testkit => ./internal/testkit
	github.com/natsrpc/natsrpc/registry/breaking => ./registry/breaking
	github.com/natsrpc/natsrpc/registry/server => ./registry/server
)
