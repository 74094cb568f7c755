// Reading and writing .f8 model files (docs/model-format.md). The reader trusts nothing: it checks
// the header, every offset and size, the checksum and then validate_model(); hostile bytes give
// an error Status, never a crash. The writer validates first, so it never writes a bad model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "f8net/rt/atomic-file.h"
#include "f8net/rt/model.h"
#include "f8net/rt/status.h"

namespace f8net::rt {

// Serializes a valid model into `out` (replaced).
Status write_model(const ModelDef& model, std::vector<uint8_t>* out);
// Writes atomically (atomic-file.h).
Status write_model_file(const ModelDef& model, const std::string& path);

// Parses and validates `size` bytes (not retained after return).
Status read_model(const uint8_t* data, size_t size, ModelDef* out, GraphInfo* info = nullptr);
Status read_model_file(const std::string& path, ModelDef* out, GraphInfo* info = nullptr);

// FNV-1a 64 of `size` bytes: the file checksum.
uint64_t fnv1a64(const uint8_t* data, size_t size);

}  // namespace f8net::rt
