// The pickle part of the checkpoint container check (zip-check.h; internal, no LibTorch).
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

namespace f8net::qat::detail {

// What check_pickle throws: the reason, without the file or record name.
struct PickleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A pickle as LibTorch's unpickler reads it (protocols 0-4): every opcode known, every length
// inside the record (LibTorch allocates a declared length before reading it), every memo index
// at most one past the highest so far (LibTorch reserves memory for the index), and every
// storage no larger than its data record (LibTorch sizes the storage from the pickle's numel,
// whatever the record holds). `record_sizes` maps every record of the archive, by its name in
// lower case (LibTorch's zip reader finds records case-insensitively), to its size. `name` is the
// pickle's record name (its storages are the records under name minus ".pkl").
// Throws PickleError.
void check_pickle(const std::string& name, const std::string& p,
                  const std::map<std::string, uint64_t>& record_sizes);

// `s` with A-Z mapped to a-z (how LibTorch's zip reader compares record names).
std::string ascii_lower(std::string s);

}  // namespace f8net::qat::detail
