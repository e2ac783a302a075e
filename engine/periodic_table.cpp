#include "engine/periodic_table.hpp"

#include <array>

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd {
namespace {

// Standard atomic weights in amu (IUPAC; for elements without a stable isotope, the mass number of the
// longest-lived isotope). These are the values ASE uses, so masses agree with ASE-made inputs.
constexpr std::array<Element, 118> kElements{{
    {"H", 1, 1.008},
    {"He", 2, 4.002602},
    {"Li", 3, 6.94},
    {"Be", 4, 9.0121831},
    {"B", 5, 10.81},
    {"C", 6, 12.011},
    {"N", 7, 14.007},
    {"O", 8, 15.999},
    {"F", 9, 18.998403163},
    {"Ne", 10, 20.1797},
    {"Na", 11, 22.98976928},
    {"Mg", 12, 24.305},
    {"Al", 13, 26.9815385},
    {"Si", 14, 28.085},
    {"P", 15, 30.973761998},
    {"S", 16, 32.06},
    {"Cl", 17, 35.45},
    {"Ar", 18, 39.948},
    {"K", 19, 39.0983},
    {"Ca", 20, 40.078},
    {"Sc", 21, 44.955908},
    {"Ti", 22, 47.867},
    {"V", 23, 50.9415},
    {"Cr", 24, 51.9961},
    {"Mn", 25, 54.938044},
    {"Fe", 26, 55.845},
    {"Co", 27, 58.933194},
    {"Ni", 28, 58.6934},
    {"Cu", 29, 63.546},
    {"Zn", 30, 65.38},
    {"Ga", 31, 69.723},
    {"Ge", 32, 72.63},
    {"As", 33, 74.921595},
    {"Se", 34, 78.971},
    {"Br", 35, 79.904},
    {"Kr", 36, 83.798},
    {"Rb", 37, 85.4678},
    {"Sr", 38, 87.62},
    {"Y", 39, 88.90584},
    {"Zr", 40, 91.224},
    {"Nb", 41, 92.90637},
    {"Mo", 42, 95.95},
    {"Tc", 43, 97.90721},
    {"Ru", 44, 101.07},
    {"Rh", 45, 102.9055},
    {"Pd", 46, 106.42},
    {"Ag", 47, 107.8682},
    {"Cd", 48, 112.414},
    {"In", 49, 114.818},
    {"Sn", 50, 118.71},
    {"Sb", 51, 121.76},
    {"Te", 52, 127.6},
    {"I", 53, 126.90447},
    {"Xe", 54, 131.293},
    {"Cs", 55, 132.90545196},
    {"Ba", 56, 137.327},
    {"La", 57, 138.90547},
    {"Ce", 58, 140.116},
    {"Pr", 59, 140.90766},
    {"Nd", 60, 144.242},
    {"Pm", 61, 144.91276},
    {"Sm", 62, 150.36},
    {"Eu", 63, 151.964},
    {"Gd", 64, 157.25},
    {"Tb", 65, 158.92535},
    {"Dy", 66, 162.5},
    {"Ho", 67, 164.93033},
    {"Er", 68, 167.259},
    {"Tm", 69, 168.93422},
    {"Yb", 70, 173.054},
    {"Lu", 71, 174.9668},
    {"Hf", 72, 178.49},
    {"Ta", 73, 180.94788},
    {"W", 74, 183.84},
    {"Re", 75, 186.207},
    {"Os", 76, 190.23},
    {"Ir", 77, 192.217},
    {"Pt", 78, 195.084},
    {"Au", 79, 196.966569},
    {"Hg", 80, 200.592},
    {"Tl", 81, 204.38},
    {"Pb", 82, 207.2},
    {"Bi", 83, 208.9804},
    {"Po", 84, 208.98243},
    {"At", 85, 209.98715},
    {"Rn", 86, 222.01758},
    {"Fr", 87, 223.01974},
    {"Ra", 88, 226.02541},
    {"Ac", 89, 227.02775},
    {"Th", 90, 232.0377},
    {"Pa", 91, 231.03588},
    {"U", 92, 238.02891},
    {"Np", 93, 237.04817},
    {"Pu", 94, 244.06421},
    {"Am", 95, 243.06138},
    {"Cm", 96, 247.07035},
    {"Bk", 97, 247.07031},
    {"Cf", 98, 251.07959},
    {"Es", 99, 252.083},
    {"Fm", 100, 257.09511},
    {"Md", 101, 258.09843},
    {"No", 102, 259.101},
    {"Lr", 103, 262.11},
    {"Rf", 104, 267.122},
    {"Db", 105, 268.126},
    {"Sg", 106, 271.134},
    {"Bh", 107, 270.133},
    {"Hs", 108, 269.1338},
    {"Mt", 109, 278.156},
    {"Ds", 110, 281.165},
    {"Rg", 111, 281.166},
    {"Cn", 112, 285.177},
    {"Nh", 113, 286.182},
    {"Fl", 114, 289.19},
    {"Mc", 115, 289.194},
    {"Lv", 116, 293.204},
    {"Ts", 117, 293.208},
    {"Og", 118, 294.214},
}};

}  // namespace

const Element& element_by_symbol(std::string_view symbol) {
  for (const Element& element : kElements)
    if (element.symbol == symbol) return element;
  throw InputError(fmt::format("unknown element symbol '{}' (expected a chemical symbol such as H, O, Cu)", symbol));
}

const Element& element_by_number(int atomic_number) {
  if (atomic_number < 1 || atomic_number > static_cast<int>(kElements.size()))
    throw InputError(fmt::format("atomic number {} is outside 1..118", atomic_number));
  return kElements[atomic_number - 1];
}

bool is_element_symbol(std::string_view symbol) {
  for (const Element& element : kElements)
    if (element.symbol == symbol) return true;
  return false;
}

}  // namespace nqmd
