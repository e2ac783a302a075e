#!/usr/bin/env bash
# Configures and builds nequip-md in ./build (Release). Extra arguments go to cmake, e.g.
# scripts/build.sh -DCMAKE_PREFIX_PATH=/opt/libtorch for another libtorch.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
