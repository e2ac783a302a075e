#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the default example: packages, build, run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DNQMD_BUILD_TESTS=OFF -DNQMD_BUILD_BENCH=OFF
example=inputs/argon
echo "== nequip-md run $example/input.toml (NVT), then $example/nve.toml (NVE)"
(cd "$example" && ../../build/app/nequip-md run input.toml --force && ../../build/app/nequip-md run nve.toml --force)
