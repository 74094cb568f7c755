// The torchrun environment convention (dist.h: read_dist_env) and the rank slices of a global
// batch. Every malformed value is refused with one line naming the variable: a rank that guessed
// would wait for peers that never come.
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>

#include "f8net/qat/dist.h"

namespace f8net::qat {
namespace {

// A whole decimal integer in [lo, hi], or DistError naming the variable.
int parse_int(const char* name, const char* text, long lo, long hi) {
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
    throw DistError(std::string("dist: environment variable ") + name + "='" + text +
                    "' is not an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                    "]");
  }
  return static_cast<int>(v);
}

}  // namespace

DistEnv read_dist_env(const EnvReader& reader) {
  const EnvReader get = reader ? reader : EnvReader([](const char* n) { return std::getenv(n); });
  const auto value = [&](const char* name) -> const char* {
    const char* v = get(name);
    return v && *v ? v : nullptr;
  };
  DistEnv env;
  const char* world = value("WORLD_SIZE");
  if (!world) return env;
  env.world_size = parse_int("WORLD_SIZE", world, 1, 1 << 16);
  if (!env.distributed()) return env;
  const char* rank = value("RANK");
  if (!rank) {
    throw DistError("dist: WORLD_SIZE=" + std::string(world) +
                    " is set but RANK is not (set both, as torchrun does)");
  }
  env.rank = parse_int("RANK", rank, 0, env.world_size - 1);
  const char* local = value("LOCAL_RANK");
  env.local_rank = local ? parse_int("LOCAL_RANK", local, 0, env.world_size - 1) : env.rank;
  if (const char* addr = value("MASTER_ADDR")) env.master_addr = addr;
  if (const char* port = value("MASTER_PORT"))
    env.master_port = parse_int("MASTER_PORT", port, 1, 65535);
  return env;
}

Slice rank_slice(int64_t global_n, int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world || global_n < 0) {
    throw DistError("dist: rank " + std::to_string(rank) + " of " + std::to_string(world) +
                    " has no slice of a batch of " + std::to_string(global_n));
  }
  const int64_t base = global_n / world, extra = global_n % world;
  const int64_t r = rank;
  Slice s;
  s.begin = r * base + std::min(r, extra);
  s.end = s.begin + base + (r < extra ? 1 : 0);
  return s;
}

}  // namespace f8net::qat
