# natsrpc developer commands. `make help` lists them.
#
# Tools are pinned in tools/go.mod and run with `go tool -modfile=tools/go.mod`,
# so a fresh machine needs only Go (and, for the protoc compatibility tests,
# Debian's protobuf-compiler, which .ci/run installs), plus Node.js 20 or later
# with npm for the TypeScript package in ts/ (its tools are pinned by
# ts/package-lock.json and installed with `npm ci`).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
NPM       ?= npm
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
test: checkgenerate vet lint breaking gotest tstest benchsmoke fuzz-short ## Run every check and test (what CI runs)

.PHONY: gotest
gotest: ## Run the Go tests
	$(GO) test $(TESTFLAGS) ./...

.PHONY: vet
vet: ## Run go vet
	$(GO) vet ./...
	cd ts/testserver && GOWORK=off $(GO) vet ./...

# node-check fails early, and says what to install, when Node.js or npm is
# missing or too old for the TypeScript package.
.PHONY: node-check
node-check:
	@command -v node >/dev/null && command -v $(NPM) >/dev/null || { echo "the TypeScript part (ts/) needs Node.js 20 or later and npm: install them (Debian 13: apt-get install nodejs npm)" >&2; exit 1; }
	@node -e 'if (+process.versions.node.split(".")[0] < 20) { console.error("ts/ needs Node.js 20 or later; this is " + process.version); process.exit(1) }'

# ts/node_modules is installed from the lockfile when it is missing or older
# than the lockfile; npm ci writes the stamp.
ts/node_modules/.package-lock.json: ts/package-lock.json ts/package.json | node-check
	cd ts && $(NPM) ci --no-audit --no-fund

.PHONY: tstest
tstest: node-check ## Run the TypeScript tests: npm ci, tsc (strict), node's test runner against a real nats-server and Go services
	cd ts && $(NPM) ci --no-audit --no-fund && $(NPM) test

.PHONY: lint
lint: ## Lint the schemas with buf, check formatting (Go and proto) and that go.mod files are tidy
	$(BUF) lint
	$(GO) mod tidy -diff
	cd bench && $(GO) mod tidy -diff
	cd ts/testserver && GOWORK=off $(GO) mod tidy -diff
	$(BUF) format -d --exit-code
	@test -z "$$(gofmt -l $$(git ls-files '*.go') | tee /dev/stderr)" || (echo "gofmt: run 'gofmt -w' on the files above" >&2; exit 1)

.PHONY: breaking
breaking: ## Check proto/ for breaking changes against the repository's first commit
	@if [ "$$(git rev-parse --is-shallow-repository)" = true ]; then echo "breaking: shallow clone, skipped (fetch the full history to run it)"; else \
		$(BUF) breaking --against ".git#ref=$$(git rev-list --max-parents=0 HEAD)"; fi

.PHONY: generate
generate: generate-code ## Regenerate all generated code (proto/, internal/testproto, bench, ts/, the subject fixture) and rewrite the plugin's golden files
	$(GO) generate ./protoc-gen-natsrpc

# generate-code regenerates what builds from the schemas (proto/, the
# library's test schema in internal/testproto and the benchmark's, the
# TypeScript of both in ts/, and the subject fixture other runtimes check
# themselves against); the plugin's golden files are left to generate,
# which rewrites them, and to checkgenerate, which compares them.
.PHONY: generate-code
generate-code: ts/node_modules/.package-lock.json
	./.ci/prune-generated.sh
	$(BUF) generate
	$(BUF) generate --template internal/testproto/buf.gen.yaml
	$(BUF) generate --template ts/buf.gen.yaml
	$(BUF) generate --template ts/buf.gen.test.yaml
	$(GO) test -count=1 -run '^TestSubjectsFixture$$' ./internal/spec -update
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

.PHONY: bench-ts
bench-ts: ts/node_modules/.package-lock.json ## TypeScript client calls/s against a Go service next to a raw nats.js request loop (BENCH_RUNS, BENCH_SECONDS)
	cd ts && $(NPM) run bench

.PHONY: benchsmoke
benchsmoke: ## Vet the benchmark module and run each benchmark once (part of make test)
	cd bench && $(GO) vet ./... && $(GO) test -short -count=1 ./...

.PHONY: clean
clean: ## Remove local state (embedded NATS data, build output)
	rm -rf $(DATA_DIR) .tmp ts/dist
