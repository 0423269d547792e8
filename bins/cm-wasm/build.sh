#!/usr/bin/env bash
# Builds cm's browser package into bins/cm-wasm/pkg/ (cm_wasm_bg.wasm + cm_wasm.js).
#
# Installs what it needs unless present: the wasm32-unknown-unknown target (rustup) and
# wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in Cargo.lock
# (`cargo install --locked`, unlocked if the locked install fails). Builds in release
# mode, honouring CARGO_TARGET_DIR, then prints the sizes, raw and gzipped, and fails if
# the two together pass the budget of 600 KB gzipped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/pkg"
budget=$((600 * 1024))
cd "$root"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "build.sh: installing the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi

version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)"
if [ -z "$version" ]; then
    echo "build.sh: cannot find the wasm-bindgen version in Cargo.lock" >&2
    exit 1
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$version" ]; then
    echo "build.sh: installing wasm-bindgen-cli $version"
    if ! cargo install --locked wasm-bindgen-cli --version "$version"; then
        echo "build.sh: the locked install failed; trying without --locked"
        cargo install wasm-bindgen-cli --version "$version"
    fi
fi

# For the browser, size matters more than speed: optimise for size, and keep the
# `target_features` section wasm-bindgen reads (it strips the names itself).
# The workspace's release profile keeps a few hot-path crates at opt-level 3 for the
# native binaries; those per-package settings are overridden here too (config beats the
# manifest), or they would cost the package about 120 KB gzipped.
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${CARGO_PROFILE_RELEASE_OPT_LEVEL:-z}"
export CARGO_PROFILE_RELEASE_STRIP=none
overrides=()
for package in $(sed -n 's/^\[profile\.release\.package\.\([A-Za-z0-9_-]*\)\]$/\1/p' "$root/Cargo.toml"); do
    overrides+=(--config "profile.release.package.$package.opt-level=\"$CARGO_PROFILE_RELEASE_OPT_LEVEL\"")
done
cargo build --release -p cm-wasm --target wasm32-unknown-unknown "${overrides[@]}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
wasm="$target_dir/wasm32-unknown-unknown/release/cm_wasm.wasm"
wasm-bindgen --target web --out-dir "$out" --remove-name-section --remove-producers-section "$wasm"

gz_size() { gzip -9 -c "$1" | wc -c; }
total=0
printf '%-22s %10s %10s\n' file bytes gzipped
for file in cm_wasm_bg.wasm cm_wasm.js; do
    raw=$(wc -c < "$out/$file")
    gz=$(gz_size "$out/$file")
    total=$((total + gz))
    printf '%-22s %10d %10d\n' "$file" "$raw" "$gz"
done
printf '%-22s %10s %10d (budget %d)\n' together "" "$total" "$budget"
if [ "$total" -ge "$budget" ]; then
    echo "build.sh: the package is over its budget of 600 KB gzipped" >&2
    exit 1
fi
