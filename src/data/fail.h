// Internal to f8net_data: the one way a reader reports a bad file ("<path>: <why>", one line).
#pragma once

#include <string>

#include "f8net/data/error.h"

namespace f8net::data::detail {

[[noreturn]] inline void fail(const std::string& path, const std::string& message) {
  throw DataError(path + ": " + message);
}

}  // namespace f8net::data::detail
