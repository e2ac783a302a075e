#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the default example: packages, build, run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DNQMD_BUILD_TESTS=OFF -DNQMD_BUILD_BENCH=OFF
example=inputs/water
shared=${NQMD_SHARED_DIR:-../shared}
if [[ ! -f "$shared/data/water-64-deepmd/water.extxyz" ]]; then
  echo "quickstart: the water frames are read from $shared/data/water-64-deepmd/ beside this repository;" >&2
  echo "            running the argon example instead" >&2
  example=inputs/argon
  (cd "$example" && ../../build/app/nequip-md run input.toml --force && ../../build/app/nequip-md run nve.toml --force)
  exit 0
fi
echo "== nequip-md run $example/md.toml: 64 H2O, NequIP model trained by nequip-md, 2 ps NVT at 300 K, then the RDFs"
(cd "$example" && ../../build/app/nequip-md run md.toml --force)
echo "== figures: $example/analysis/rdf_O_O.png, rdf_O_H.png, rdf_H_H.png (against the ab-initio frames)"
