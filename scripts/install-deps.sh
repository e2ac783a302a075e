#!/usr/bin/env bash
# Installs the Debian 12 packages nequip-md builds and tests with. Idempotent and non-interactive: packages
# already present are skipped, and apt's lists are refreshed only when something must be installed.
# Usage: scripts/install-deps.sh [--tests]   (--tests adds the Python packages used by interoperability tests,
# clang with libFuzzer for the sanitizer and fuzz stages, and LAMMPS with kim-api and Open MPI for the KIM model driver
# and its tests, docs/lammps.md)
set -euo pipefail

packages=(build-essential cmake pkg-config ccache zlib1g-dev
          libtorch-dev libeigen3-dev libfmt-dev libhdf5-dev catch2 libtomlplusplus-dev libcli11-dev
          libfftw3-dev libbenchmark-dev gnuplot-nox)
if [[ "${1:-}" == "--tests" ]]; then
  packages+=(python3-ase python3-numpy python3-h5py python3-mdanalysis zip unzip clang libclang-rt-14-dev
             libkim-api-dev lammps openmpi-bin)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
