// Crash-safe file writes, the one implementation every writer of the project uses (.f8 models,
// ONNX files, checkpoints, configs, metrics): the bytes go to a temporary file beside the
// destination (".<name>.tmp-XXXXXX"), are fsync'ed, and the file is renamed over the destination,
// so readers see the old file or the whole new one, never a partial one.
#pragma once

#include <cstddef>
#include <string>

#include "f8net/rt/status.h"

namespace f8net::rt {

// Writes `size` bytes to `path` atomically (temporary file, fsync, rename, fsync of the
// directory). On failure the Status names the path and the reason; `path` is then untouched and
// the temporary file removed.
Status write_file_atomic(const std::string& path, const void* data, size_t size);

// Coordination with signal handlers (both async-signal-safe): whether a write_file_atomic call is
// in progress in this process, and a request to _exit(code) as soon as the last one in progress
// has renamed its file (a second Ctrl-C then waits for the save instead of leaving a temporary
// file behind).
bool atomic_write_in_progress() noexcept;
void request_exit_after_write(int code) noexcept;

}  // namespace f8net::rt
