#!/usr/bin/env bash
# The npm package as a user gets it: packs clientele-server around a release binary, installs
# the tarballs into an empty project (no Rust toolchain involved), runs the node:test suite
# of npm/test/ there through test/run.js (one shared server, the docs' setup), and checks
# the typed example with tsc --strict, then runs it. .ci/run calls it; it runs alone too:
#
#   npm/scripts/test-packed.sh [BINARY [SCRATCH]]
#
# BINARY defaults to $CARGO_TARGET_DIR (or target)/release/clientele, SCRATCH to
# target/ci/npm (emptied first).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
binary=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/clientele}")
scratch=${2:-target/ci/npm}
rm -rf "$scratch"
mkdir -p "$scratch/packs" "$scratch/project"
scratch=$(realpath "$scratch")

# `npm pack` in npm/ packs the platform package first (its prepack script), then the main one.
(cd npm && CLIENTELE_BINARY="$binary" npm pack --silent --pack-destination "$scratch/packs" >/dev/null)
ls "$scratch/packs"

cd "$scratch/project"
printf '{"name": "scratch", "private": true, "type": "module"}\n' >package.json
# The other platforms' packages are not published yet: npm looks them up, finds nothing and
# skips them, as optional dependencies. TypeScript and Node's types are for the typed example.
npm install --no-audit --no-fund --loglevel=error "$scratch"/packs/*.tgz typescript@~5.9.3 "@types/node@^20"
cp -R "$repo/npm/test" test

timeout 300 node test/run.js
tsc=(npx --no-install tsc --strict --module nodenext --moduleResolution nodenext --target es2022 --types node)
"${tsc[@]}" --noEmit test/typed-example.ts
# Typed is not enough: the example must also do what it says.
"${tsc[@]}" --outDir typed test/typed-example.ts
timeout 120 node --test typed/typed-example.js
echo "npm: packed, installed into an empty project, node:test suite and typed example OK"
