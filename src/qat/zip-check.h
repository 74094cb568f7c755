// Checks the zip container of a LibTorch archive before LibTorch opens it (no LibTorch here, so
// it is fuzzed without it). LibTorch trusts the container: a record may declare any size (a 1 MB
// file can ask for gigabytes, and so can a string length inside its pickle), and the TorchScript
// code inside is compiled and its __setstate__ methods run at load. f8net's archives hold only
// data and class declarations.
#pragma once

#include <string>

namespace f8net::qat::detail {

// Throws std::runtime_error("<path>: ...") unless `bytes` is a zip (zip64 allowed) whose records
// are stored or deflated (at most 64 MiB inflated in all), unencrypted, uniquely named (ignoring
// case, as LibTorch's reader finds them) and inside the file, and whose
// TorchScript sources (".py" records under code/) define no function or method, and whose
// pickles (".pkl") use known opcodes with lengths inside the record and memo indices in order.
// `kind` names what the file should be in the message ("<path>: not <kind> (...)").
void check_zip_container(const std::string& bytes, const std::string& path,
                         const std::string& kind = "an f8net checkpoint");

}  // namespace f8net::qat::detail
