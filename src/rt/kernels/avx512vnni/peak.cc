// The int8 peak of one core: 12 independent vpdpbusd zmm chains (64 MACs each) timed for ~20 ms,
// so `f8net bench` can state a model's GMAC/s as a fraction of what this machine can do.
#include <immintrin.h>

#include <chrono>
#include <cstdint>

#include "kernels/avx512vnni/vnni-kernels.h"

namespace f8net::rt::kernels::avx512 {

double vnni_peak_gmacs() {
  __m512i acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  using Clock = std::chrono::steady_clock;
  const Clock::time_point t0 = Clock::now();
  int64_t iters = 0;
  double seconds = 0;
  do {
    for (int r = 0; r < 4096; ++r) {
      for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
      __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]));
    }
    iters += 4096;
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (seconds < 0.02);
  int32_t sink = 0;
  alignas(64) int32_t lanes[16];
  for (int i = 0; i < 12; ++i) {
    _mm512_store_si512(lanes, acc[i]);
    sink ^= lanes[0];
  }
  __asm__ volatile("" : : "r"(sink));
  return static_cast<double>(iters) * 12 * 64 / seconds * 1e-9;
}

}  // namespace f8net::rt::kernels::avx512
