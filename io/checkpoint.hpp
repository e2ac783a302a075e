#pragma once
// Checkpoints (HDF5): everything needed to continue a run bit for bit: positions, velocities, image
// counters, cell and pbc, species and masses, step and time, the forces/energies at those positions, and the
// named state arrays of the integrator (thermostat variables, RNG state).
//
// Layout: attributes format = "nequip-md checkpoint", format_version, step, time_fs, atoms, species_symbols
// (space separated); datasets /system/{positions (A), velocities (A/fs), images, masses (amu), species, cell (A,
// rows), pbc}, /forces/{forces (eV/A), atom_energies (eV), virial (eV)} with attribute energy (eV), and
// /integrator/reals/<name>, /integrator/integers/<name>, and optionally /neighbor_list/{positions, cell}: what the
// list was last built from, so that a restart continues with the same list. Written to a temporary file, flushed, fsynced and
// renamed over the old checkpoint, so a checkpoint on disk is always complete.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/named_arrays.hpp"
#include "engine/system.hpp"

namespace nqmd {

struct Checkpoint {
  System system;
  std::uint64_t step = 0;
  double time_fs = 0.0;
  double energy = 0.0;               // eV
  std::vector<double> atom_energies; // eV
  std::vector<Vec3> forces;          // eV/A
  Mat3 virial = Mat3::Zero();        // eV
  NamedArrays integrator;
  // The neighbour list's positions and lattice at its last build (empty: the restart builds a new list).
  std::vector<Vec3> neighbor_list_positions;  // A
  Mat3 neighbor_list_cell = Mat3::Zero();     // A, rows
};

// Throws InputError naming the path on any I/O failure; never leaves a partial file under `path`.
void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Throws InputError naming the path if it is missing, not a nequip-md checkpoint, or incomplete.
Checkpoint read_checkpoint(const std::string& path);

}  // namespace nqmd
