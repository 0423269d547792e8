#!/usr/bin/env bash
# The browser end-to-end test: builds the package (bins/cm-wasm/build.sh) and cm-mock,
# installs playwright-core from package-lock.json (no browser download: it drives the
# system's Chromium), runs the page's Markdown unit tests (node --test), then e2e.mjs.
# Prints the screenshot's path.
#
# Needs: node (20+) and npm, Debian's `chromium` (or CHROMIUM=/path).
# E2E_SKIP_BUILD=1 reuses an existing bins/cm-wasm/pkg.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
    echo "e2e.sh: no Chromium at $chromium; install it (apt-get install -y chromium) or set CHROMIUM" >&2
    exit 1
fi

if [ "${E2E_SKIP_BUILD:-}" != 1 ] || [ ! -f bins/cm-wasm/pkg/cm_wasm_bg.wasm ]; then
    bins/cm-wasm/build.sh
fi
cargo build -p cm-mock
target_dir="${CARGO_TARGET_DIR:-$root/target}"

if [ ! -d "$here/node_modules/playwright-core" ]; then
    (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

node --test "$here/markdown.test.mjs"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/cm-wasm-e2e.XXXXXX")"
E2E_TMP="$tmp" CM_MOCK="$target_dir/debug/cm-mock" CHROMIUM="$chromium" \
    node "$here/e2e.mjs"
