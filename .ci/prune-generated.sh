#!/usr/bin/env bash
# Deletes generated Go files under proto/ and internal/testproto/ whose
# .proto file no longer exists, so that removing a schema leaves no stale
# code behind. Files whose .proto still exists are left for `buf generate`
# to overwrite: deleting them first would break the plugin's own build,
# which imports the generated options package.
set -euo pipefail
cd "$(dirname "$0")/.."
# The buf modules whose code buf.gen.yaml and internal/testproto/buf.gen.yaml
# generate next to the .proto files.
for root in proto internal/testproto; do
	find "$root" -name '*.pb.go' -print0 | while IFS= read -r -d '' f; do
		src="${f%.pb.go}.proto"
		[ -e "$src" ] || { echo "prune $f"; rm -f "$f"; }
	done
	find "$root" -name '*.natsrpc.go' -print0 | while IFS= read -r -d '' f; do
		base="$(basename "${f%.natsrpc.go}")"
		src="$(dirname "$(dirname "$f")")/${base}.proto"
		[ -e "$src" ] || { echo "prune $f"; rm -f "$f"; }
	done
	find "$root" -type d -empty -delete
done
