#pragma once
// Units of nequip-md: LAMMPS "metal" with fs instead of ps for times.
//   length Angstrom, energy eV, time fs, mass amu (g/mol), temperature K,
//   force eV/A, velocity A/fs, stress eV/A^3 internally (GPa or bar where printed).
// Constants are CODATA 2018 (the SI-exact values of e, k_B, N_A and the 2018 atomic mass constant).

namespace nqmd::units {

inline constexpr double boltzmann_ev_per_k = 8.617333262e-5;        // k_B in eV/K
inline constexpr double elementary_charge_c = 1.602176634e-19;      // J per eV
inline constexpr double atomic_mass_kg = 1.66053906660e-27;         // kg per amu
inline constexpr double avogadro_per_mol = 6.02214076e23;

// Units of ab-initio data, in eV and A: Hartree and Rydberg energies, the Bohr radius, chemists' per-mole units.
inline constexpr double hartree_ev = 27.211386245988;
inline constexpr double rydberg_ev = 13.605693122994;
inline constexpr double bohr_a = 0.529177210903;
inline constexpr double kcal_per_mol_ev = 4184.0 / (avogadro_per_mol * elementary_charge_c);
inline constexpr double kj_per_mol_ev = 1000.0 / (avogadro_per_mol * elementary_charge_c);

// Kinetic energy: 1 amu * A^2/fs^2 = 103.6427 eV.
inline constexpr double amu_a2_per_fs2_to_ev = atomic_mass_kg * 1e-20 / 1e-30 / elementary_charge_c;
// Acceleration from force / mass: 1 eV/(A amu) = 9.6485e-3 A/fs^2 (the inverse of the above).
inline constexpr double ev_per_a_amu_to_a_per_fs2 = 1.0 / amu_a2_per_fs2_to_ev;

// Pressure / stress: 1 eV/A^3 = 160.2177 GPa = 1.602177e6 bar.
inline constexpr double ev_per_a3_to_gpa = elementary_charge_c * 1e30 / 1e9;
inline constexpr double ev_per_a3_to_bar = elementary_charge_c * 1e30 / 1e5;

// Mass density: 1 amu/A^3 = 1.66054 g/cm^3 (1 A^3 = 1e-24 cm^3).
inline constexpr double amu_per_a3_to_g_per_cm3 = atomic_mass_kg * 1e3 / 1e-24;

// ASE's time unit, Angstrom * sqrt(amu/eV) = 10.1805 fs, with the CODATA 2014 constants ASE 3.22 uses:
// ASE's momenta (extxyz column `momenta`) are amu*A/(this unit).
inline constexpr double ase_time_unit_fs = 10.180505671156723;

// The atomic units of the i-PI socket protocol as ASE 3.22 converts them (ase.units.Bohr and ase.units.Hartree,
// CODATA 2014), not CODATA 2018's above: ASE's SocketIOCalculator then reads back exactly the A and eV sent.
// (i-PI's own constants differ from these by 1e-7 relative for eV, 1e-8 for A.)
inline constexpr double ipi_bohr_a = 0.5291772105638411;
inline constexpr double ipi_hartree_ev = 27.211386024367243;

inline constexpr double fs_per_ps = 1000.0;
inline constexpr double ns_per_fs = 1e-6;

}  // namespace nqmd::units
