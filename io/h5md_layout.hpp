#pragma once
// The layout of the H5MD files nequip-md writes (io/h5md.hpp describes it): the names, units and constants that
// the writer, the restart copy and the reader share. Private to io/.
#include <hdf5.h>

#include <array>

#include "engine/observer.hpp"

namespace nqmd::h5md {

inline constexpr const char* kParticles = "particles/all";
inline constexpr const char* kPositionStep = "/particles/all/position/step";
inline constexpr const char* kPositionTime = "/particles/all/position/time";

// Frames per chunk of the small time series. Per-atom datasets have one frame per chunk.
inline constexpr hsize_t kSeriesFramesPerChunk = 256;

// Units as the H5MD units module spells them: written as `unit` attributes, and assumed when a file has none.
inline constexpr const char* kLengthUnit = "Angstrom";
inline constexpr const char* kTimeUnit = "fs";
inline constexpr const char* kVelocityUnit = "Angstrom fs-1";
inline constexpr const char* kForceUnit = "eV Angstrom-1";
inline constexpr const char* kMassUnit = "amu";
inline constexpr const char* kEnergyUnit = "eV";

// The per-atom potential energies (a particle element of nequip-md's own; H5MD lets programs add elements).
inline constexpr const char* kAtomEnergyElement = "potential_energy";

// The time series under /observables, in the order they are created.
struct ObservableSpec {
  const char* name;
  const char* unit;
  double ThermoState::*member;
};
inline constexpr std::array<ObservableSpec, 7> kObservables{{
    {"potential_energy", "eV", &ThermoState::potential_energy},
    {"kinetic_energy", "eV", &ThermoState::kinetic_energy},
    {"total_energy", "eV", &ThermoState::total_energy},
    {"conserved_energy", "eV", &ThermoState::conserved_energy},
    {"temperature", "K", &ThermoState::temperature},
    {"pressure", "bar", &ThermoState::pressure_bar},
    {"volume", "Angstrom+3", &ThermoState::volume},
}};

}  // namespace nqmd::h5md
