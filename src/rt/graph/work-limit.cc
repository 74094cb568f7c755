// Implementation of work-limit.h. The message names the limit and both ways to raise it, because
// a legitimate large model (a big input on purpose) must stay runnable.
#include "work-limit.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace f8net::rt {

int64_t macs_per_image(const GraphInfo& info) {
  int64_t total = 0;
  for (const OpInfo& op : info.ops) total += op.macs + op.wide_multiplications;
  return total;
}

namespace {

std::string gmac(double macs) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", macs * 1e-9);
  return buf;
}

}  // namespace

Status check_work_limit(const GraphInfo& info, uint64_t limit) {
  if (const char* env = std::getenv("F8NET_MAX_GMAC"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    errno = 0;
    const double g = std::strtod(env, &end);
    if (errno != 0 || end == env || *end != '\0' || !(g >= 0) || g > 1e9) {
      return Status(StatusCode::kInvalidArgument,
                    "F8NET_MAX_GMAC must be a number of GMAC in [0, 1e9] (0: no limit), got '" +
                        std::string(env) + "'");
    }
    limit = static_cast<uint64_t>(g * 1e9);
  }
  const int64_t macs = macs_per_image(info);
  if (limit == 0 || static_cast<uint64_t>(macs) <= limit) return Status::ok();
  return Status(StatusCode::kUnsupported,
                "the model needs " + gmac(static_cast<double>(macs)) +
                    " GMAC per image, over the work limit of " + gmac(static_cast<double>(limit)) +
                    " GMAC (raise it with F8NET_MAX_GMAC=<GMAC> or "
                    "InterpreterOptions::max_macs_per_image; 0 = no limit)");
}

}  // namespace f8net::rt
