// Internal to f8net_data: the seeded draws the loader and the transforms share. Each sample's
// generator is seeded by mix_seed(seed, epoch, position) (position -1: the epoch's shuffle), so
// every random choice is fixed by those three numbers alone. Changing any of these changes every
// augmented batch and the resume tests' expectations.
#pragma once

#include <cstdint>
#include <random>

namespace f8net::data::detail {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t mix_seed(uint64_t seed, int64_t epoch, int64_t position) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^
                    static_cast<uint64_t>(position));
}

// Uniform double in [0, 1) from the top 53 bits.
inline double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// Uniform integer in [lo, hi] (hi >= lo).
inline int64_t uniform_int(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

}  // namespace f8net::data::detail
