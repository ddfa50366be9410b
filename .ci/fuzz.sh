#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time each.
# Usage: .ci/fuzz.sh DURATION   (e.g. 5s)
set -euo pipefail
fuzztime="${1:-5s}"
found=0
while IFS= read -r file; do
	dir="$(dirname "$file")"
	for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
		found=1
		echo "fuzz ${dir} ${target} for ${fuzztime}"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "./${dir}"
	done
done < <(git ls-files '*_test.go' | sort)
if [ "$found" = 0 ]; then
	echo "no fuzz targets found"
fi
