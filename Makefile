# natsrpc developer commands. `make help` lists them.
#
# Tools are pinned in tools/go.mod and run with `go tool -modfile=tools/go.mod`,
# so a fresh machine needs only Go (and, for the protoc compatibility tests,
# Debian's protobuf-compiler, which .ci/run installs).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
BUF       := $(GO) tool -modfile=tools/go.mod buf
DATA_DIR  ?= .natsrpc
LISTEN    ?= 127.0.0.1:4222
# Fuzz targets run briefly in `make test`; `make fuzz FUZZTIME=5m` runs longer.
FUZZTIME  ?= 5s
# -race doubles run time on this 2-core machine but is worth it.
TESTFLAGS ?= -race -count=1 -timeout 15m

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Run the registry on an embedded NATS server and push proto/ as module gaming (a second instance: make run LISTEN=127.0.0.1:4223 DATA_DIR=.natsrpc-2)
	@echo "building natsrpc into .tmp/natsrpc (the first build compiles nats-server and the rest: about 2 minutes on 2 cores; then seconds)"
	@$(GO) build -o .tmp/natsrpc ./cmd/natsrpc
	@# exec: Ctrl-C reaches natsrpc itself, which stops cleanly and exits 0.
	@exec .tmp/natsrpc registry serve --embedded --data-dir $(DATA_DIR) --listen $(LISTEN) --push-dir proto --push-module gaming

.PHONY: test
test: checkgenerate vet lint breaking gotest benchsmoke fuzz-short ## Run every check and test (what CI runs)

.PHONY: gotest
gotest: ## Run the Go tests (the root module and the gateway module)
	$(GO) test $(TESTFLAGS) ./...
	cd gateway && $(GO) test $(TESTFLAGS) ./...

.PHONY: vet
vet: ## Run go vet
	$(GO) vet ./...
	cd gateway && $(GO) vet ./...

.PHONY: lint
lint: ## Lint the schemas with buf, check formatting (Go and proto) and that go.mod files are tidy
	$(BUF) lint
	$(GO) mod tidy -diff
	cd bench && $(GO) mod tidy -diff
	cd gateway && $(GO) mod tidy -diff
	$(BUF) format -d --exit-code
	@test -z "$$(gofmt -l $$(git ls-files '*.go') | tee /dev/stderr)" || (echo "gofmt: run 'gofmt -w' on the files above" >&2; exit 1)

.PHONY: breaking
breaking: ## Check proto/ for breaking changes against the repository's first commit
	@if [ "$$(git rev-parse --is-shallow-repository)" = true ]; then echo "breaking: shallow clone, skipped (fetch the full history to run it)"; else \
		$(BUF) breaking --against ".git#ref=$$(git rev-list --max-parents=0 HEAD)"; fi

.PHONY: generate
generate: generate-code ## Regenerate all generated code (proto/, internal/testproto, bench) and rewrite the plugin's golden files
	$(GO) generate ./protoc-gen-natsrpc

# generate-code regenerates what builds from the schemas (proto/, the
# library's test schema in internal/testproto and the benchmark's); the
# plugin's golden files are left to generate, which rewrites them, and to
# checkgenerate, which compares them.
.PHONY: generate-code
generate-code:
	./.ci/prune-generated.sh
	$(BUF) generate
	$(BUF) generate --template internal/testproto/buf.gen.yaml
	cd bench && $(GO) generate ./internal/gen

# checkgenerate never rewrites the golden files (TestGolden refuses -update
# when CI is set): a generator change that alters its output fails here
# until the new golden files are reviewed and committed.
.PHONY: checkgenerate
checkgenerate: generate-code ## Regenerate, compare the plugin's golden files, and fail if anything changed or appeared
	$(GO) test -count=1 -run '^TestGolden$$' ./protoc-gen-natsrpc
	@git rev-parse --is-inside-work-tree >/dev/null || (echo "checkgenerate compares against git: run it in a git checkout" >&2; exit 1)
	@test -z "$$(git status --porcelain | tee /dev/stderr)" || (echo "generated code is stale or the tree is dirty: run 'make generate' and commit" >&2; exit 1)

.PHONY: fuzz-short
fuzz-short: ## Run each fuzz target briefly
	@./.ci/fuzz.sh $(FUZZTIME)

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 5s; try FUZZTIME=5m)
	@./.ci/fuzz.sh $(FUZZTIME)

.PHONY: bench
bench: ## Run the benchmark suite and print the comparison table (BENCH_QUICK=1: about a minute)
	mkdir -p .tmp
	cd bench && $(GO) run ./cmd/benchtable -o ../.tmp/bench.md

.PHONY: benchsmoke
benchsmoke: ## Vet the benchmark module and run each benchmark once (part of make test)
	cd bench && $(GO) vet ./... && $(GO) test -short -count=1 ./...

.PHONY: clean
clean: ## Remove local state (embedded NATS data, build output)
	rm -rf $(DATA_DIR) .tmp
