#pragma once
// The one way nequip-md replaces a file (checkpoints, H5MD restarts, model files, training checkpoints): the new
// file is written beside the old one as PATH.tmp, fsynced, renamed over PATH, and the directory is fsynced so that
// the rename itself survives a crash. A reader, a kill or a power cut sees the old file or the new one, never a
// part of either.
#include <functional>
#include <string>

namespace nqmd {

// The temporary file that replace_file_atomically writes for `path`.
std::string temporary_path_for(const std::string& path);

// Calls write(temporary_path_for(path)), which creates and fills that file (and closes it), then makes it durable
// and renames it over `path`. If `write` throws, or syncing or renaming fails, the temporary file is removed and
// `path` is left as it was; the failures of this function are InputError naming `path`.
void replace_file_atomically(const std::string& path, const std::function<void(const std::string& temporary)>& write);

// replace_file_atomically with `text` as the new content.
void replace_text_file_atomically(const std::string& path, const std::string& text);

}  // namespace nqmd
