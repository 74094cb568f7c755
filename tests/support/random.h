// Seeded random numbers for tests. The seed comes from F8NET_TEST_SEED when set (to replay a
// failure), otherwise from the test's fixed default; tests print it in failure messages.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

namespace f8net::testing {

inline uint64_t test_seed(uint64_t fallback) {
  if (const char* s = std::getenv("F8NET_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return fallback;
}

inline std::string seed_note(uint64_t seed) {
  return "seed " + std::to_string(seed) + " (replay with F8NET_TEST_SEED=" + std::to_string(seed) +
         ")";
}

}  // namespace f8net::testing
