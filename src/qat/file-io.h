// Whole-file reads and atomic writes for the training library (internal to f8net_qat): the
// exception-throwing form of rt::write_file_atomic (atomic-file.h, the one implementation) that
// checkpoints, configs and metrics use.
#pragma once

#include <string>

namespace f8net::qat {

// Writes `bytes` to `path` atomically (rt::write_file_atomic). Throws std::runtime_error naming
// the path on any failure; the destination is then untouched and the temporary file removed.
void write_file_atomic(const std::string& path, const std::string& bytes);

// Reads a whole file; throws std::runtime_error naming the path when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace f8net::qat
