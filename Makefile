# natsrpc developer commands. `make help` lists them.
#
# Tools are pinned in tools/go.mod and run with `go tool -modfile=tools/go.mod`,
# so a fresh machine needs only Go (and, for the protoc compatibility tests,
# Debian's protobuf-compiler, which .ci/run installs), plus Node.js 20 or later
# with npm for the TypeScript package in ts/ (its tools are pinned by
# ts/package-lock.json and installed with `npm ci`). -modfile cannot be
# used in workspace mode (go.work), so every such command runs with
# GOWORK=off; buf's plugins inherit it.
#
# The repository is several Go modules (go.work lists them). `./...` at the
# root covers the root module only, so the targets loop over MODULES, and
# run each module alone (GOWORK=off), as its users build it: a requirement
# missing from a module's go.mod fails here, not in a user's build. The
# root module's tests use go_test.mod (see README, "Modules").

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
NPM       ?= npm
BUF       := GOWORK=off $(GO) tool -modfile=tools/go.mod buf
# The modules go.work lists, root first; bench is one too but has its own
# targets (benchsmoke, bench).
MODULES   := . $(filter-out bench,$(shell sed -n 's|^[[:space:]]*\./\([^[:space:]]*\)$$|\1|p' go.work))
DATA_DIR  ?= .natsrpc
LISTEN    ?= 127.0.0.1:4222
# SERVER_CONFIG, when set, is a nats-server configuration file (TLS,
# authorization) for make run's embedded server; give the registry's user
# in the environment (NATS_USER and NATS_PASSWORD, NATS_CREDS, ...).
SERVER_CONFIG ?=
# Fuzz targets run briefly in `make test`; `make fuzz FUZZTIME=5m` runs longer.
FUZZTIME  ?= 5s
# -race doubles run time on this 2-core machine but is worth it.
TESTFLAGS ?= -race -count=1 -timeout 15m

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Run the registry on an embedded NATS server and push proto/ as module gaming (a second instance: make run LISTEN=127.0.0.1:4223 DATA_DIR=.natsrpc-2; TLS and users: make run SERVER_CONFIG=nats.conf)
	@echo "building natsrpc into .tmp/natsrpc (the first build compiles nats-server and the rest: about 2 minutes on 2 cores; then seconds)"
	@# Built in its own module's directory: works in the workspace and with GOWORK=off alike.
	@cd cmd/natsrpc && $(GO) build -o ../../.tmp/natsrpc .
	@# exec: Ctrl-C reaches natsrpc itself, which stops cleanly and exits 0.
	@exec .tmp/natsrpc registry serve --embedded --data-dir $(DATA_DIR) --listen $(LISTEN) $(if $(SERVER_CONFIG),--server-config $(SERVER_CONFIG)) --push-dir proto --push-module gaming

.PHONY: test
test: checkgenerate vet lint breaking gotest tstest benchsmoke fuzz-short ## Run every check and test (what CI runs)

# modgo runs `go $(1)` in module $(2) alone (GOWORK=off), with the root's
# go_test.mod for the root.
modgo = if [ "$(2)" = . ]; then GOWORK=off $(GO) $(1) -modfile=go_test.mod ./...; else (cd $(2) && GOWORK=off $(GO) $(1) ./...); fi

.PHONY: gotest
gotest: ## Run the Go tests of every module
	@set -e; for m in $(MODULES); do echo "go test $(TESTFLAGS) ($$m)"; $(call modgo,test $(TESTFLAGS),$$m); done

.PHONY: vet
vet: ## Run go vet on every module
	@set -e; for m in $(MODULES); do echo "go vet ($$m)"; $(call modgo,vet,$$m); done

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

.PHONY: modules
modules: ## List the modules make test covers (bench has its own targets)
	@for m in $(MODULES) bench; do echo $$m; done

.PHONY: lint
lint: ## Lint the schemas with buf, check formatting (Go and proto) and that every module's go.mod is tidy
	$(BUF) lint
	./.ci/tidy.sh
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
# library's test schema in internal/testproto, the benchmark's,
# internal/descfuzz's compiled base schema, the TypeScript of proto/ and the
# test schema in ts/, and the subject fixture other runtimes check
# themselves against); the plugin's golden files are left to generate,
# which rewrites them, and to checkgenerate, which compares them.
.PHONY: generate-code
generate-code: ts/node_modules/.package-lock.json
	./.ci/prune-generated.sh
	$(BUF) generate
	$(BUF) generate --template internal/testproto/buf.gen.yaml
	$(BUF) generate --template ts/buf.gen.yaml
	$(BUF) generate --template ts/buf.gen.test.yaml
	GOWORK=off $(GO) test -modfile=go_test.mod -count=1 -run '^TestSubjectsFixture$$' ./internal/spec/spectest -update
	cd bench && GOWORK=off $(GO) generate ./internal/gen
	cd internal/testkit && GOWORK=off $(GO) test -count=1 -run '^TestDescfuzzBaseIsFresh$$' ./testschema -update

# checkgenerate never rewrites the golden files (TestGolden refuses -update
# when CI is set): a generator change that alters its output fails here
# until the new golden files are reviewed and committed.
.PHONY: checkgenerate
checkgenerate: generate-code ## Regenerate, compare the plugin's golden files, and fail if anything changed or appeared
	GOWORK=off $(GO) test -modfile=go_test.mod -count=1 -run '^TestGolden$$' ./protoc-gen-natsrpc
	@git rev-parse --is-inside-work-tree >/dev/null || (echo "checkgenerate compares against git: run it in a git checkout" >&2; exit 1)
	@test -z "$$(git status --porcelain | tee /dev/stderr)" || (echo "generated code is stale or the tree is dirty: run 'make generate' and commit" >&2; exit 1)

.PHONY: fuzz-short
fuzz-short: ## Run each fuzz target of every module briefly
	@./.ci/fuzz.sh $(FUZZTIME)

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 5s; try FUZZTIME=5m)
	@./.ci/fuzz.sh $(FUZZTIME)

.PHONY: bench
bench: ## Run the benchmark suite and print the comparison table (BENCH_QUICK=1: about a minute)
	mkdir -p .tmp
	cd bench && GOWORK=off $(GO) run ./cmd/benchtable -o ../.tmp/bench.md

.PHONY: bench-ts
bench-ts: ts/node_modules/.package-lock.json ## TypeScript client calls/s against a Go service next to a raw nats.js request loop (BENCH_RUNS, BENCH_SECONDS)
	cd ts && $(NPM) run bench

.PHONY: benchsmoke
benchsmoke: ## Vet the benchmark module and run each benchmark once (part of make test)
	cd bench && GOWORK=off $(GO) vet ./... && GOWORK=off $(GO) test -short -count=1 ./...

.PHONY: release-check
release-check: ## Check a release candidate (docs/releasing.md): every module at VERSION from a local proxy, replaces dropped, and go install .../cmd/natsrpc@VERSION
	@test -n "$(VERSION)" || (echo "usage: make release-check VERSION=v0.x.y" >&2; exit 1)
	GOWORK=off $(GO) test -modfile=go_test.mod -count=1 -v -run '^TestReleaseCandidate$$' ./internal/layout -args -release=$(VERSION) -release-install

.PHONY: clean
clean: ## Remove local state (embedded NATS data, build output)
	rm -rf $(DATA_DIR) .tmp ts/dist
