// Implementation of cli-util.h.
#include "cli-util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "commands.h"

namespace f8net::cli {

void load_interpreter(const std::string& path, int threads, rt::Interpreter* it) {
  if (threads < 0) throw UsageError("--threads must be >= 0");
  rt::Status s = it->load_file(path);
  if (s.is_ok()) {
    rt::InterpreterOptions o;
    o.num_threads = threads;
    s = it->prepare(o);
  }
  if (!s.is_ok()) {
    // Reader errors already start with the path.
    const std::string& m = s.message();
    throw Error(m.compare(0, path.size(), path) == 0 ? m : path + ": " + m);
  }
}

std::string printable(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof(esc), "\\x%02x", c);
      out += esc;
    } else {
      out += ch;
    }
  }
  return out;
}

std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace f8net::cli
