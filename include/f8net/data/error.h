// The one exception of f8net_data: a missing, unreadable or malformed data file, or a data set
// that cannot feed the model asked for. The message is one line and names the file.
#pragma once

#include <stdexcept>

namespace f8net::data {

struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace f8net::data
