// Checks on LibTorch archives read from files that f8net did not necessarily write: every
// tensor must lie inside its storage (LibTorch trusts the archive's strides and offsets, so an
// edited one reads out of bounds), and an integrity digest over every entry detects corruption.
// Internal to f8net_qat (checkpoint.cc, state-io.cc).
#pragma once

#include <torch/torch.h>

#include <string>

namespace f8net::qat::detail {

// The archive key that holds the digest (a string "fnv1a64:<16 hex digits>").
constexpr const char* kChecksumKey = "f8net_checksum";

// Throws std::runtime_error("<path>: ...") naming the first tensor (recursively, sub-archives
// included) that is not a strided CPU tensor within its storage, with a dtype f8net reads.
void check_archive_tensors(torch::serialize::InputArchive& archive, const std::string& path);

// FNV-1a 64 over every entry of the archive except kChecksumKey, keys in sorted order and
// sub-archives recursively: tensors by name, dtype, sizes and contiguous bytes; strings, ints,
// doubles and bools by name and value. Call check_archive_tensors first.
std::string archive_digest(torch::serialize::InputArchive& archive);

// Verifies the stored digest. `required`: a missing digest is an error (f8net checkpoints);
// otherwise a missing digest is accepted (foreign archives). Throws std::runtime_error.
void verify_archive_digest(torch::serialize::InputArchive& archive, const std::string& path,
                           bool required);

// `bytes` (a serialized archive read from `path`) loaded as an InputArchive once its zip
// container has passed check_zip_container (zip-check.h); throws std::runtime_error naming
// `path` for a refused container and c10::Error on bytes LibTorch rejects.
void load_archive_bytes(const std::string& bytes, const std::string& path,
                        torch::serialize::InputArchive* archive);

}  // namespace f8net::qat::detail
