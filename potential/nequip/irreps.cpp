#include "potential/nequip/irreps.hpp"

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "engine/error.hpp"

namespace nqmd::nequip {

std::string Irrep::to_string() const { return std::to_string(l) + (p == 1 ? "e" : "o"); }

Irrep Irrep::parse(const std::string& text) {
  if (text.size() < 2) throw InputError("bad irrep '" + text + "'");
  const char parity = text.back();
  const std::string digits = text.substr(0, text.size() - 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos || (parity != 'e' && parity != 'o' && parity != 'y')) {
    throw InputError("bad irrep '" + text + "'");
  }
  Irrep ir;
  ir.l = std::stoi(digits);
  // 'y' is e3nn's spherical-harmonics parity (-1)^l.
  ir.p = parity == 'e' ? 1 : parity == 'o' ? -1 : (ir.l % 2 == 0 ? 1 : -1);
  return ir;
}

std::vector<Irrep> Irrep::operator*(const Irrep& other) const {
  std::vector<Irrep> out;
  for (int lo = std::abs(l - other.l); lo <= l + other.l; ++lo) out.push_back(Irrep{lo, p * other.p});
  return out;
}

Irreps Irreps::parse(const std::string& text) {
  std::vector<MulIrrep> blocks;
  std::string clean;
  for (char c : text)
    if (c != ' ') clean += c;
  if (clean.empty()) return Irreps();
  std::size_t start = 0;
  while (start <= clean.size()) {
    const std::size_t end = std::min(clean.find('+', start), clean.size());
    const std::string term = clean.substr(start, end - start);
    MulIrrep block;
    const std::size_t x = term.find('x');
    if (x == std::string::npos) {
      block.ir = Irrep::parse(term);
    } else {
      const std::string mul = term.substr(0, x);
      if (mul.empty() || mul.find_first_not_of("0123456789") != std::string::npos) {
        throw InputError("bad irreps '" + text + "'");
      }
      block.mul = std::stoi(mul);
      block.ir = Irrep::parse(term.substr(x + 1));
    }
    blocks.push_back(block);
    start = end + 1;
  }
  return Irreps(std::move(blocks));
}

Irreps Irreps::spherical_harmonics(int lmax, int p) {
  std::vector<MulIrrep> blocks;
  for (int l = 0; l <= lmax; ++l) blocks.push_back(MulIrrep{1, Irrep{l, l % 2 == 0 ? 1 : p}});
  return Irreps(std::move(blocks));
}

int Irreps::dim() const {
  int d = 0;
  for (const auto& b : blocks_) d += b.dim();
  return d;
}

int Irreps::num_irreps() const {
  int n = 0;
  for (const auto& b : blocks_) n += b.mul;
  return n;
}

int Irreps::lmax() const {
  int l = -1;
  for (const auto& b : blocks_) l = std::max(l, b.ir.l);
  return l;
}

std::vector<int> Irreps::offsets() const {
  std::vector<int> out(blocks_.size() + 1, 0);
  for (std::size_t i = 0; i < blocks_.size(); ++i) out[i + 1] = out[i] + blocks_[i].dim();
  return out;
}

bool Irreps::contains(const Irrep& ir) const { return count(ir) > 0; }

int Irreps::count(const Irrep& ir) const {
  int n = 0;
  for (const auto& b : blocks_)
    if (b.ir == ir) n += b.mul;
  return n;
}

Irreps Irreps::simplify() const {
  std::vector<MulIrrep> out;
  for (const auto& b : blocks_) {
    if (!out.empty() && out.back().ir == b.ir) {
      out.back().mul += b.mul;
    } else if (b.mul > 0) {
      out.push_back(b);
    }
  }
  return Irreps(std::move(out));
}

Irreps::Sorted Irreps::sort() const {
  Sorted s;
  s.order.resize(blocks_.size());
  std::iota(s.order.begin(), s.order.end(), 0);
  std::stable_sort(s.order.begin(), s.order.end(),
                   [&](int a, int b) { return blocks_[static_cast<std::size_t>(a)].ir < blocks_[static_cast<std::size_t>(b)].ir; });
  s.position.resize(blocks_.size());
  std::vector<MulIrrep> sorted;
  for (std::size_t k = 0; k < s.order.size(); ++k) {
    sorted.push_back(blocks_[static_cast<std::size_t>(s.order[k])]);
    s.position[static_cast<std::size_t>(s.order[k])] = static_cast<int>(k);
  }
  s.irreps = Irreps(std::move(sorted));
  return s;
}

Irreps Irreps::operator+(const Irreps& other) const {
  std::vector<MulIrrep> out = blocks_;
  out.insert(out.end(), other.blocks_.begin(), other.blocks_.end());
  return Irreps(std::move(out));
}

std::string Irreps::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    if (i) out += "+";
    out += std::to_string(blocks_[i].mul) + "x" + blocks_[i].ir.to_string();
  }
  return out;
}

}  // namespace nqmd::nequip
