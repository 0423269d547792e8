#!/usr/bin/env bash
# The cm CLI benchmarks of BENCHMARKS.md: release build, median of N runs (default 15).
#   - `cm --version`: wall time and peak RSS
#   - `cm run` of a read-a-file scenario against cm-mock (two model requests, one tool
#     call): wall time, CPU time (user+sys) and peak RSS
#   - the stripped binary's size
# Needs GNU time (/usr/bin/time) for peak RSS. Usage: scripts/bench-cli.sh [RUNS]
set -euo pipefail

runs="${1:-15}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build -q --release --manifest-path "$repo/Cargo.toml" -p cm -p cm-mock
target="$(cargo metadata --manifest-path "$repo/Cargo.toml" --format-version 1 --no-deps \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
cm="$target/release/cm"
mock="$target/release/cm-mock"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/cm-bench.XXXXXX")"
mock_pid=""
cleanup() {
  if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# Two runs of the command: one timed by bash (ms resolution), one under GNU time for the
# peak RSS. Prints "wall_s user_s sys_s maxrss_kb".
measure() {
  local times
  times=$( { TIMEFORMAT='%3R %3U %3S'; time "$@" > /dev/null 2>&1; } 2>&1 | tail -n1 )
  /usr/bin/time -f "%M" -o "$tmp/rss" "$@" > /dev/null 2>&1 || true
  echo "$times $(tail -n1 "$tmp/rss")"
}

echo "cm --version ($runs runs)"
: > "$tmp/version"
for _ in $(seq "$runs"); do measure "$cm" --version >> "$tmp/version"; done
echo "  wall median: $(cut -d' ' -f1 "$tmp/version" | median) s"
echo "  peak RSS median: $(cut -d' ' -f4 "$tmp/version" | median) KiB"

mkdir -p "$tmp/project"
printf 'fn main() {}\n' > "$tmp/project/main.rs"
turn='{"tool_calls": [{"name": "read", "arguments": {"path": "main.rs"}}]}, {"text": "It is an empty main."}'
script="["
for i in $(seq $((runs * 2))); do
  script="$script$turn"
  if [ "$i" -lt $((runs * 2)) ]; then script="$script,"; fi
done
echo "$script]" > "$tmp/script.json"
"$mock" --script "$tmp/script.json" --quiet > "$tmp/mock.out" &
mock_pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$tmp/mock.out" 2>/dev/null && break; sleep 0.05; done
url="$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$tmp/mock.out" | head -n1)"

echo "cm run, read-a-file scenario against cm-mock ($runs runs)"
: > "$tmp/run"
for _ in $(seq "$runs"); do
  (cd "$tmp/project" && HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" \
    XDG_STATE_HOME="$tmp/state" ANTHROPIC_BASE_URL="$url" ANTHROPIC_API_KEY=bench \
    measure "$cm" run -q --model anthropic/claude-sonnet-4-5 "what is in main.rs?") >> "$tmp/run"
done
echo "  wall median: $(cut -d' ' -f1 "$tmp/run" | median) s"
echo "  CPU (user+sys) median: $(awk '{print $2+$3}' "$tmp/run" | median) s"
echo "  peak RSS median: $(cut -d' ' -f4 "$tmp/run" | median) KiB"

echo "binary size (release profile strips symbols): $(stat -c %s "$cm") bytes"
