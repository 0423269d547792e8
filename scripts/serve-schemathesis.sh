#!/usr/bin/env bash
# Schemathesis against `cm serve`: every operation of GET /openapi.json is fuzzed with the
# token, and every check must pass. The model is unreachable on purpose (turns fail fast,
# with no retries), so no key or network is needed. The event streams are left out (they
# never end by design; tests/e2e_serve.rs covers them), and so is the check that every
# schema-valid request succeeds: whether a directory exists or a provider/model is known
# depends on the machine, which a schema cannot say (those get 400 with a message).
# Installs schemathesis from PyPI into a virtual environment under the temporary directory
# (or reuses $ST_VENV). Usage: scripts/serve-schemathesis.sh [MAX_EXAMPLES]
set -euo pipefail

examples="${1:-30}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" cargo build -q --manifest-path "$repo/Cargo.toml" -p cm
target="$(cargo metadata --manifest-path "$repo/Cargo.toml" --format-version 1 --no-deps \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
cm="$target/debug/cm"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/cm-schemathesis.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

venv="${ST_VENV:-$tmp/venv}"
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "4.32.5"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.5"  # pinned: CI runs what was checked
fi

mkdir -p "$tmp/project" "$tmp/config/cm"
echo '{"limits": {"retries": 0}}' > "$tmp/config/cm/config.json"
cd "$tmp/project"
env -i PATH="$PATH" HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" \
  XDG_STATE_HOME="$tmp/state" ANTHROPIC_API_KEY=unused ANTHROPIC_BASE_URL=http://127.0.0.1:9 \
  "$cm" serve --port 0 > "$tmp/stdout" 2> "$tmp/stderr" &
server_pid=$!
for _ in $(seq 100); do [ -s "$tmp/stdout" ] && break; sleep 0.1; done
url="$(sed -n 's/^cm serve listening on //p' "$tmp/stdout")"
port="${url##*:}"
token="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' \
  "$tmp/data/cm/serve/$port.json")"

"$venv/bin/st" run "$url/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --exclude-checks positive_data_acceptance \
  --exclude-path-regex 'events$' \
  --max-examples "$examples" \
  --request-timeout 30 \
  --workers 1 \
  --generation-database none
echo "schemathesis: no failures"
