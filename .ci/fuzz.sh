#!/usr/bin/env bash
# Runs every Go fuzz target of the repository's modules (bench/ is its own
# module and has none) for a short time each, from the module that holds
# the package. Usage: .ci/fuzz.sh DURATION   (e.g. 5s)
#
# A real finding always writes a reproducer ("Failing input written to
# testdata/fuzz/...") and fails the run. Go 1.26's fuzz coordinator can also
# fail a target with a bare "context deadline exceeded" when -fuzztime expires
# while a worker is busy (golang/go#75804, fixed in Go 1.27): no input is
# written and nothing is wrong with the target. Such a run is retried; if the
# race hits every attempt, the target is reported but does not fail the run.
set -euo pipefail
fuzztime="${1:-5s}"
found=0
failed=0
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# module_of prints the directory of the module holding package dir (the
# nearest go.mod above it); package_in prints dir relative to it.
module_of() {
	local d="$1"
	while [ "$d" != "." ] && [ ! -f "$d/go.mod" ]; do
		d="$(dirname "$d")"
	done
	echo "$d"
}

package_in() {
	local m
	m="$(module_of "$1")"
	if [ "$m" = "." ]; then
		echo "$1"
	elif [ "$m" = "$1" ]; then
		echo "."
	else
		echo "${1#"$m"/}"
	fi
}

run_target() {
	local dir="$1" target="$2" attempt mod pkg
	mod="$(module_of "$dir")"
	pkg="$(package_in "$dir")"
	for attempt in 1 2 3; do
		if (cd "$mod" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "./$pkg") >"$log" 2>&1; then
			tail -n 3 "$log"
			return 0
		fi
		cat "$log"
		if grep -q 'Failing input written to' "$log" || ! grep -q 'context deadline exceeded' "$log" ||
			grep -qE '^\s+(panic:|.*_test\.go:[0-9]+:)' "$log"; then
			echo "FAIL: ${dir} ${target} found a failing input (see above)" >&2
			return 1
		fi
		echo "fuzz ${dir} ${target}: the fuzz coordinator's deadline race (golang/go#75804), no input written; attempt ${attempt}" >&2
	done
	echo "WARNING: ${dir} ${target} hit golang/go#75804 on every attempt; no failing input was found" >&2
	return 0
}

while IFS= read -r file; do
	dir="$(dirname "$file")"
	for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
		found=1
		echo "fuzz ${dir} ${target} for ${fuzztime}"
		run_target "$dir" "$target" || failed=1
	done
done < <(git ls-files '*_test.go' | grep -v '^bench/' | sort)
if [ "$found" = 0 ]; then
	echo "no fuzz targets found"
fi
exit "$failed"
