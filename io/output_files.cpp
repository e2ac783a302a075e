#include "io/output_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/log.hpp"
#include "io/atomic_file.hpp"

namespace nqmd {
namespace {

namespace fs = std::filesystem;

// An existing file is its device and inode (whatever the spelling or link that reaches it); a file still to be
// created is its canonical path.
struct FileIdentity {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  std::string canonical;

  bool operator==(const FileIdentity& other) const {
    if (exists != other.exists) return false;
    return exists ? device == other.device && inode == other.inode : canonical == other.canonical;
  }
};

FileIdentity identity_of(const std::string& path) {
  FileIdentity identity;
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    identity.exists = true;
    identity.device = info.st_dev;
    identity.inode = info.st_ino;
    return identity;
  }
  std::error_code error;
  fs::path absolute = fs::absolute(path, error);
  if (error) absolute = path;
  const fs::path canonical = fs::weakly_canonical(absolute, error);  // resolves the part that exists
  identity.canonical = (error ? absolute : canonical).lexically_normal().string();
  return identity;
}

// A file a command writes: an output, or the temporary file beside it.
struct WrittenFile {
  const NamedFile* output;
  std::string path;
  bool temporary;
  FileIdentity identity;

  std::string description() const {
    if (temporary) return fmt::format("the temporary file {} of {}", path, output->name);
    return fmt::format("{} = {}", output->name, path);
  }
};

std::string holder_text() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "unknown host");
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char started[32] = {};
  std::strftime(started, sizeof started, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return fmt::format("pid {} on {}, started {}", ::getpid(), host, started);
}

// Writes this process's pid, host and start time into the lock file (the lock holds without them).
bool record_holder(int descriptor) {
  const std::string holder = holder_text() + "\n";
  return ::ftruncate(descriptor, 0) == 0 &&
         ::pwrite(descriptor, holder.data(), holder.size(), 0) == static_cast<ssize_t>(holder.size());
}

std::string read_holder(int descriptor) {
  char text[512] = {};
  const ssize_t size = ::pread(descriptor, text, sizeof text - 1, 0);
  if (size <= 0) return "";
  std::string holder(text, static_cast<std::size_t>(size));
  while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
  return holder;
}

}  // namespace

bool same_file(const std::string& a, const std::string& b) { return identity_of(a) == identity_of(b); }

void check_output_files(const std::vector<NamedFile>& outputs, const std::vector<NamedFile>& inputs) {
  std::vector<WrittenFile> written;
  for (const NamedFile& output : outputs) {
    if (output.path.empty()) continue;
    written.push_back({&output, output.path, false, identity_of(output.path)});
    const std::string temporary = temporary_path_for(output.path);
    written.push_back({&output, temporary, true, identity_of(temporary)});
  }
  for (std::size_t i = 0; i < written.size(); ++i)
    for (std::size_t j = i + 1; j < written.size(); ++j)
      if (written[i].output != written[j].output && written[i].identity == written[j].identity)
        throw InputError(fmt::format("{} is the same file as {}: each output needs a file of its own",
                                     written[j].description(), written[i].description()));
  for (const NamedFile& input : inputs) {
    if (input.path.empty()) continue;
    const FileIdentity identity = identity_of(input.path);
    for (const WrittenFile& file : written) {
      if (!(file.identity == identity)) continue;
      if (!file.temporary && !input.may_be_replaced_by.empty() && input.may_be_replaced_by == file.output->name)
        continue;
      throw InputError(fmt::format("{} is the same file as the input {} = {}: nequip-md never writes over its "
                                   "inputs; choose another output file",
                                   file.description(), input.name, input.path));
    }
  }
}

std::string OutputLock::lock_path_for(const std::string& output) { return output + ".lock"; }

OutputLock::OutputLock(const std::vector<NamedFile>& outputs) {
  try {
    for (const NamedFile& output : outputs) {
      if (output.path.empty()) continue;
      const std::string path = lock_path_for(output.path);
      bool already_held = false;
      for (const Held& held : held_) already_held = already_held || same_file(held.path, path);
      if (already_held) continue;
      // The holder before us removes the lock file when it lets go: if the file we locked is no longer the one
      // at `path`, we lock the new one (a few rounds suffice unless processes keep racing for it).
      bool locked = false;
      for (int attempt = 0; attempt < 100 && !locked; ++attempt) {
        const int descriptor = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (descriptor < 0)
          throw InputError(fmt::format("{}: cannot create the lock file {} of {} ({})", output.name, path,
                                       output.path, std::strerror(errno)));
        if (::flock(descriptor, LOCK_EX | LOCK_NB) != 0) {
          const int code = errno;
          const std::string holder = read_holder(descriptor);
          ::close(descriptor);
          if (code == EWOULDBLOCK)
            throw InputError(fmt::format("{}: {} is in use by another nequip-md process ({}); wait for it to finish "
                                         "or stop it",
                                         output.name, output.path, holder.empty() ? "which has not recorded its pid yet" : holder));
          throw InputError(fmt::format("{}: cannot lock {} ({})", output.name, path, std::strerror(code)));
        }
        struct stat opened {}, named {};
        if (::fstat(descriptor, &opened) == 0 && ::stat(path.c_str(), &named) == 0 &&
            opened.st_dev == named.st_dev && opened.st_ino == named.st_ino) {
          if (!record_holder(descriptor)) log::warn("{}: cannot record this process in the lock file", path);
          held_.push_back({path, descriptor});
          locked = true;
        } else {
          ::close(descriptor);
        }
      }
      if (!locked)
        throw InputError(fmt::format("{}: cannot lock {}: other processes keep replacing it", output.name, path));
    }
  } catch (...) {
    release();
    throw;
  }
}

OutputLock::~OutputLock() { release(); }

OutputLock::OutputLock(OutputLock&& other) noexcept : held_(std::exchange(other.held_, {})) {}

OutputLock& OutputLock::operator=(OutputLock&& other) noexcept {
  if (this != &other) {
    release();
    held_ = std::exchange(other.held_, {});
  }
  return *this;
}

void OutputLock::release() {
  // Removed while still locked, so a process that opens the path afterwards creates and locks a new file.
  for (const Held& held : held_) {
    ::unlink(held.path.c_str());
    ::close(held.descriptor);
  }
  held_.clear();
}

}  // namespace nqmd
