#pragma once
// Checks on a file named in the input before it is opened: a FIFO would block the open, a device (/dev/zero)
// never ends, a directory is not what was meant. Looked at with stat, never opened.
#include <cstdint>
#include <string>

namespace nqmd {

// InputError "PATH: is a FIFO (named pipe); expected EXPECTED" if `path` exists and is not a regular file (after
// symbolic links), or is larger than `max_bytes`. A path that does not exist passes: the open then says so.
void require_regular_file(const std::string& path, const std::string& expected,
                          std::uintmax_t max_bytes = UINTMAX_MAX);

}  // namespace nqmd
