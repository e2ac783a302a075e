#pragma once
// Errors a user can act on. An InputError (bad file, bad key, bad value) ends the program with exit code 1
// and its one-line message; anything else is an internal error (exit code 2).
#include <stdexcept>
#include <string>

namespace nqmd {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace nqmd
