#pragma once
// The message of the nqmd::InputError an action throws; fails the test if it throws nothing.
#include <string>

#include <catch2/catch.hpp>

#include "engine/error.hpp"

namespace nqmd::test {

template <typename Action>
std::string input_error_message(Action&& action) {
  try {
    action();
  } catch (const nqmd::InputError& error) {
    return error.what();
  }
  FAIL("expected an nqmd::InputError, but nothing was thrown");
  return {};
}

}  // namespace nqmd::test
