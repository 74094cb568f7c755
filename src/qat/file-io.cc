// Whole-file reads and the throwing atomic write (file-io.h).
#include "file-io.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "f8net/rt/atomic-file.h"

namespace f8net::qat {

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const rt::Status s = rt::write_file_atomic(path, bytes.data(), bytes.size());
  if (!s.is_ok()) throw std::runtime_error(s.message());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path + ": read failed: " + std::strerror(errno));
  return s.str();
}

}  // namespace f8net::qat
