#!/usr/bin/env bash
# cm without a key or network: builds cm and cm-mock, starts cm-mock with a scripted
# conversation, and runs the real cm against it in a temporary project. You see tool
# calls (read, edit, bash), a file changed on disk, and the session saved.
#
# The "model" here is cm-mock, a SCRIPTED model: its answers are written below, in
# advance. Everything else — the agent loop, the tools, permissions, the session log —
# is the real cm.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
echo "==> building cm and cm-mock (debug)"
cargo build -q --manifest-path "$repo/Cargo.toml" -p cm -p cm-mock
target="$(cargo metadata --manifest-path "$repo/Cargo.toml" --format-version 1 --no-deps \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
cm="$target/debug/cm"
mock="$target/debug/cm-mock"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/cm-demo.XXXXXX")"
mock_pid=""
cleanup() {
  if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# A tiny project with a bug and a test.
project="$tmp/project"
mkdir -p "$project"
cat > "$project/greeting.sh" <<'SH'
#!/bin/sh
echo "Hello, wrold!"
SH
cat > "$project/test.sh" <<'SH'
#!/bin/sh
out="$(sh greeting.sh)"
if [ "$out" = "Hello, world!" ]; then echo "PASS"; else echo "FAIL: got '$out'"; exit 1; fi
SH
chmod +x "$project/test.sh"
# The project's permission rules: edits allowed, and this one test command.
cat > "$project/cm.json" <<'JSON'
{
  // cm.json: project config (comments are fine). Edits are allowed; of the commands,
  // only the test (a command named by a path is also checked under its base name).
  "permission": {"edit": "allow", "bash": {"./test.sh": "allow", "test.sh": "allow"}},
  // The scripted model costs nothing; cm shows costs from these prices.
  "provider": {"anthropic": {"models": {"scripted-demo-model": {"price": {"input": 0, "output": 0}}}}}
}
JSON

# The scripted model: four answers, each checking what cm sent it.
cat > "$tmp/script.json" <<'JSON'
[
  {"text": "I'll look at the greeting script first.",
   "tool_calls": [{"name": "read", "arguments": {"path": "greeting.sh"}}],
   "usage": {"input_tokens": 1800, "output_tokens": 40}},
  {"expect": {"tool_result_contains": "Hello, wrold!"},
   "text": "There is a typo: \"wrold\". Fixing it.",
   "tool_calls": [{"name": "edit", "arguments": {"path": "greeting.sh", "old_string": "wrold", "new_string": "world"}}],
   "usage": {"input_tokens": 1900, "output_tokens": 60}},
  {"expect": {"tool_result_contains": "greeting.sh"},
   "text": "Now the test.",
   "tool_calls": [{"name": "bash", "arguments": {"command": "./test.sh", "description": "run the test"}}],
   "usage": {"input_tokens": 2000, "output_tokens": 30}},
  {"expect": {"tool_result_contains": "PASS"},
   "text": "Fixed the typo in greeting.sh:2 (\"wrold\" → \"world\"); `./test.sh` passes.",
   "usage": {"input_tokens": 2100, "output_tokens": 35}}
]
JSON

"$mock" --script "$tmp/script.json" --quiet > "$tmp/mock.out" &
mock_pid=$!
for _ in $(seq 1 100); do
  if grep -q "listening on" "$tmp/mock.out" 2>/dev/null; then break; fi
  sleep 0.05
done
url="$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$tmp/mock.out" | head -n1)"
if [ -z "$url" ]; then echo "cm-mock did not start" >&2; exit 1; fi

echo
echo "==================================================================="
echo " SCRIPTED MODEL: cm-mock at $url answers from a fixed script."
echo " No API key, no network. cm itself is real: tools, edits, session."
echo "==================================================================="
echo
echo "\$ cat greeting.sh"
cat "$project/greeting.sh"
echo
echo "\$ cm run \"The greeting test fails. Fix it.\""
echo
(
  cd "$project"
  HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" XDG_STATE_HOME="$tmp/state" \
  ANTHROPIC_BASE_URL="$url" ANTHROPIC_API_KEY="scripted-demo-not-a-real-key" \
    "$cm" run --model anthropic/scripted-demo-model "The greeting test fails. Fix it."
)
echo
echo "\$ cat greeting.sh    # changed on disk by cm's edit tool"
cat "$project/greeting.sh"
echo
session="$(ls "$tmp"/data/cm/sessions/*.jsonl | head -n1)"
echo "Session saved: one JSON line per record ($(wc -l < "$session") lines):"
sed -n 's/^{"v":[0-9]*,"at":[0-9]*,"type":"\([a-z_]*\)".*/\1/p' "$session" | sort | uniq -c | sort -rn
echo
echo "With a real key, the same in your project:  cm run \"...\"   (see README.md)"
