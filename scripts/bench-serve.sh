#!/usr/bin/env bash
# The `cm serve` benchmarks of BENCHMARKS.md (release build):
#   - wrk against GET /health and GET /sessions (10 stored sessions), 64 connections,
#     2 threads, 10 s: requests/s and p99 latency
#   - peak RSS (VmHWM) of the server after 100 idle SSE subscribers on GET /events
# Needs wrk (Debian: apt-get install -y wrk). Usage: scripts/bench-serve.sh [SECONDS]
set -euo pipefail

seconds="${1:-10}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build -q --release --manifest-path "$repo/Cargo.toml" -p cm
target="$(cargo metadata --manifest-path "$repo/Cargo.toml" --format-version 1 --no-deps \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
cm="$target/release/cm"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/cm-bench-serve.XXXXXX")"
server_pid=""
holder_pid=""
cleanup() {
  if [ -n "$holder_pid" ]; then kill "$holder_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/project"
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
auth="Authorization: Bearer $token"
for _ in $(seq 10); do curl -s -o /dev/null -H "$auth" -X POST "$url/sessions" -d '{}'; done

for path in /health /sessions; do
  echo "== GET $path"
  wrk -t2 -c64 -d"${seconds}s" --latency -H "$auth" "$url$path" \
    | grep -E 'Requests/sec|99%|Non-2xx|Socket errors'
done

# The subscribers go to a fresh server, so the figure is not the wrk run's peak.
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
: > "$tmp/stdout"
env -i PATH="$PATH" HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" \
  XDG_STATE_HOME="$tmp/state" ANTHROPIC_API_KEY=unused ANTHROPIC_BASE_URL=http://127.0.0.1:9 \
  "$cm" serve --port 0 > "$tmp/stdout" 2> "$tmp/stderr" &
server_pid=$!
for _ in $(seq 100); do [ -s "$tmp/stdout" ] && break; sleep 0.1; done
url="$(sed -n 's/^cm serve listening on //p' "$tmp/stdout")"
port="${url##*:}"
token="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' \
  "$tmp/data/cm/serve/$port.json")"
echo "== idle server"
grep -E 'VmHWM' "/proc/$server_pid/status"
echo "== 100 idle SSE subscribers"
python3 - "$port" "$token" <<'PY' &
import socket, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
held = []
for _ in range(100):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    held.append(s)
for s in held:
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
print("subscribed", len(held), flush=True)
time.sleep(3600)
PY
holder_pid=$!
sleep 3
grep -E 'VmHWM|VmRSS' "/proc/$server_pid/status"
echo "== binary: $(stat -c %s "$cm") bytes"
