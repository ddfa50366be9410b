#!/usr/bin/env bash
# Checks (or, with -fix, makes) every module's go.mod tidy. Usage:
#   .ci/tidy.sh         check; fails on the first module that is not tidy
#   .ci/tidy.sh -fix    rewrite go.mod/go.sum (and go_test.mod/go_test.sum)
#
# Every module runs with GOWORK=off, so that a requirement the workspace
# happens to provide but a module's go.mod lacks is caught.
#
# The modules with a go.mod only (every one but the root): `go mod tidy
# -diff`, which covers their packages and tests.
#
# The root module keeps its test-only requirements (nats-server,
# protocompile, the test-support modules) in go_test.mod, as nats.go does,
# so that a service importing the runtime never inherits them. Plain
# `go mod tidy -diff` would want them in go.mod, so for the root this
# script guarantees instead:
#   (a) go.mod is exactly tidy for the root's non-test packages: the
#       tracked non-test .go files of the root module, with go.mod and
#       go.sum, are copied to a temporary directory and `go mod tidy -diff`
#       runs there (no test file, so no test requirement);
#   (b) go_test.mod is tidy for the packages and their tests:
#       `go mod tidy -modfile=go_test.mod -diff`;
#   (c) every module both files require is required at the same version,
#       so that the tests build what a service builds.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=mod"

fix=0
if [ "${1:-}" = "-fix" ]; then
	fix=1
fi

# The modules of the workspace: go.work's use lines, root first.
modules() {
	go work edit -json go.work | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p' | sed 's#^\./##'
}

# requires prints "path version" for each requirement of a go.mod file.
requires() {
	awk '/^require \(/ {inb = 1; next} inb && /^\)/ {inb = 0; next} inb && NF >= 2 {print $1, $2} /^require [^(]/ {print $2, $3}' "$1" | sort
}

failed=0
tidy_plain() {
	local dir="$1"
	if [ "$fix" = 1 ]; then
		(cd "$dir" && go mod tidy)
	elif ! (cd "$dir" && go mod tidy -diff); then
		echo "tidy: $dir/go.mod is not tidy: run '.ci/tidy.sh -fix' (or GOWORK=off go mod tidy in $dir)" >&2
		failed=1
	fi
}

# lean_copy copies the root module's tracked non-test .go files (none of a
# nested module's) and go.mod/go.sum into $1.
lean_copy() {
	local tmp="$1" nested
	nested="$(find . -mindepth 2 -name go.mod -not -path './.git/*' | sed 's#^\./##' | xargs -r -n1 dirname | sed 's#$#/#')"
	git ls-files --cached --others --exclude-standard '*.go' | grep -v '_test\.go$' | while IFS= read -r f; do
		skip=0
		while IFS= read -r n; do
			if [ -n "$n" ] && [ "${f#"$n"}" != "$f" ]; then
				skip=1
				break
			fi
		done <<<"$nested"
		if [ "$skip" = 0 ]; then
			mkdir -p "$tmp/$(dirname "$f")"
			cp "$f" "$tmp/$f"
		fi
	done
	cp go.mod go.sum "$tmp/"
}

tidy_root() {
	local tmp
	tmp="$(mktemp -d)"
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" RETURN
	lean_copy "$tmp"
	# (a) go.mod against the non-test packages only.
	if [ "$fix" = 1 ]; then
		(cd "$tmp" && go mod tidy)
		cp "$tmp/go.mod" "$tmp/go.sum" .
	elif ! (cd "$tmp" && go mod tidy -diff); then
		echo "tidy: go.mod is not tidy for the root's non-test packages (a runtime requirement is missing or a test-only one crept in): run '.ci/tidy.sh -fix'" >&2
		failed=1
	fi
	# (b) go_test.mod against the packages and their tests.
	if [ "$fix" = 1 ]; then
		go mod tidy -modfile=go_test.mod
	elif ! go mod tidy -modfile=go_test.mod -diff; then
		echo "tidy: go_test.mod is not tidy: run '.ci/tidy.sh -fix'" >&2
		failed=1
	fi
	# (c) equal versions of the shared requirements.
	local mismatch
	mismatch="$(join <(requires go.mod) <(requires go_test.mod) | awk '$2 != $3 {print "  " $1 ": go.mod " $2 ", go_test.mod " $3}')"
	if [ -n "$mismatch" ]; then
		echo "tidy: go.mod and go_test.mod require different versions (the tests must build what a service builds); raise the lower one in both:" >&2
		echo "$mismatch" >&2
		failed=1
	fi
}

for m in $(modules); do
	if [ "$m" = . ]; then
		tidy_root
	else
		tidy_plain "$m"
	fi
done
# bench is a module of the workspace too; tools/ are tool modfiles, checked
# by their own `go mod tidy -modfile=... -diff` when they change.
exit "$failed"
