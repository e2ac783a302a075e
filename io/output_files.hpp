#pragma once
// What a command may write: no output is one of its inputs, no two outputs (or their temporary files) are one
// file, and one process at a time writes a set of outputs. Files compare by identity, not by spelling: two
// spellings of a file, hard links and symbolic links are the same file, and a file that does not exist yet is its
// canonical directory plus its name ("out.h5" and "./dir/../out.h5" collide).
#include <string>
#include <vector>

namespace nqmd {

// True if `a` and `b` name the same file (existing or to be created).
bool same_file(const std::string& a, const std::string& b);

// A file a command reads or writes, with the name a user knows it by: "input.toml:12: [run] thermo_file",
// "--output". An empty path means none and is skipped.
struct NamedFile {
  std::string name;
  std::string path;
  // Inputs only: the name of the one output this input may be, because it is read completely before that output
  // replaces it atomically (a restart checkpoint continued in place); "" for none.
  std::string may_be_replaced_by = "";
};

// Throws InputError (one line naming both) if two outputs are one file, an output is the temporary file of
// another (io/atomic_file.hpp's temporary_path_for), or an output or its temporary file is an input.
void check_output_files(const std::vector<NamedFile>& outputs, const std::vector<NamedFile>& inputs);

// One process at a time per set of outputs: an exclusive flock on PATH.lock for each output PATH, held for the
// lock's life. The kernel releases a flock when its process dies, so a killed holder leaves no stale lock; a
// leftover lock file whose lock is free is reused. The lock file holds the holder's pid, host and start time and
// is removed when the lock is released.
class OutputLock {
 public:
  OutputLock() = default;
  // Locks the outputs in turn (empty paths skipped); throws InputError naming the output and the process holding
  // it if another process holds one, or naming the lock file if it cannot be created. Holds none on failure.
  explicit OutputLock(const std::vector<NamedFile>& outputs);
  ~OutputLock();
  OutputLock(OutputLock&& other) noexcept;
  OutputLock& operator=(OutputLock&& other) noexcept;
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  // The lock file of an output file.
  static std::string lock_path_for(const std::string& output);

 private:
  struct Held {
    std::string path;
    int descriptor;
  };
  std::vector<Held> held_;
  void release();
};

}  // namespace nqmd
