#pragma once
// e3nn's irreducible representations of O(3) as plain values (torch-free): an Irrep is (l, parity), an Irreps
// is a list of mul x irrep blocks. Conventions follow e3nn 0.5.1:
//  * text form "8x0e+8x1o" (a missing multiplicity means 1; "0e" parity even = +1, "o" odd = -1);
//  * a feature vector is the concatenation of its blocks in listed order, each block channel-major
//    (index = offset + u * (2l+1) + m);
//  * irreps order by (l, p) with p = -1 before p = +1 (0o < 0e < 1o < 1e ...); sort() is stable;
//  * simplify() merges only adjacent equal irreps and drops zero multiplicities.
#include <string>
#include <vector>

namespace nqmd::nequip {

struct Irrep {
  int l = 0;
  int p = 1;  // +1 even, -1 odd

  int dim() const { return 2 * l + 1; }
  std::string to_string() const;
  static Irrep parse(const std::string& text);  // "1o", "2e"; throws InputError
  // Irreps of the tensor product, l from |l1-l2| to l1+l2 ascending, parity p1*p2.
  std::vector<Irrep> operator*(const Irrep& other) const;
  bool operator==(const Irrep& o) const { return l == o.l && p == o.p; }
  bool operator!=(const Irrep& o) const { return !(*this == o); }
  bool operator<(const Irrep& o) const { return l < o.l || (l == o.l && p < o.p); }
};

struct MulIrrep {
  int mul = 1;
  Irrep ir;
  int dim() const { return mul * ir.dim(); }
  bool operator==(const MulIrrep& o) const { return mul == o.mul && ir == o.ir; }
};

class Irreps {
 public:
  Irreps() = default;
  explicit Irreps(std::vector<MulIrrep> blocks) : blocks_(std::move(blocks)) {}
  // Parses e3nn's text form ("" is empty); throws InputError.
  static Irreps parse(const std::string& text);
  // 1x0e + 1x1p + 1x2e + ... up to lmax with parity p^l (e3nn Irreps.spherical_harmonics).
  static Irreps spherical_harmonics(int lmax, int p = -1);

  const std::vector<MulIrrep>& blocks() const { return blocks_; }
  std::size_t size() const { return blocks_.size(); }
  const MulIrrep& operator[](std::size_t i) const { return blocks_[i]; }
  bool empty() const { return blocks_.empty(); }

  int dim() const;
  int num_irreps() const;  // sum of multiplicities
  int lmax() const;
  // Start of block i in the feature vector; offsets()[size()] == dim().
  std::vector<int> offsets() const;
  bool contains(const Irrep& ir) const;
  // Total multiplicity of one irrep.
  int count(const Irrep& ir) const;

  Irreps simplify() const;
  struct Sorted;
  Sorted sort() const;

  Irreps operator+(const Irreps& other) const;
  bool operator==(const Irreps& o) const { return blocks_ == o.blocks_; }
  bool operator!=(const Irreps& o) const { return !(*this == o); }
  std::string to_string() const;

 private:
  std::vector<MulIrrep> blocks_;
};

struct Irreps::Sorted {
  Irreps irreps;
  std::vector<int> order;     // order[new] = old block index (e3nn's `inv`)
  std::vector<int> position;  // position[old] = new block index (e3nn's `p`)
};

}  // namespace nqmd::nequip
