// Crash-safe file writes for checkpoints, configs and metrics (no LibTorch): the bytes go to a
// temporary file in the destination's directory, are fsync'ed, and the file is renamed over the
// destination, so readers see the old file or the new one, never a partial one.
#pragma once

#include <string>

namespace f8net::qat {

// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename, fsync of
// the directory). Throws std::runtime_error naming the path on any failure; the destination is
// then untouched and the temporary file removed.
void write_file_atomic(const std::string& path, const std::string& bytes);

// Coordination with signal handlers (both async-signal-safe): whether a write_file_atomic call
// is in progress in this process, and a request to _exit(code) as soon as the last one in
// progress has renamed its file (a second Ctrl-C then waits for the save instead of leaving a
// temporary file).
bool atomic_write_in_progress() noexcept;
void request_exit_after_write(int code) noexcept;

// Reads a whole file; throws std::runtime_error naming the path when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace f8net::qat
