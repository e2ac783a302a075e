#pragma once
// Torch (through Debian's glog) defines a CHECK macro that clashes with Catch's: include torch first, drop
// glog's CHECK, then include Catch. Test files that need torch include this instead of catch2 directly.
#include <torch/torch.h>
#undef CHECK
#include <catch2/catch.hpp>
