// The int8 peak of one core: 12 independent vpdpbusd zmm chains (64 MACs each) timed for ~20 ms,
// so `f8net bench` can state a model's GMAC/s as a fraction of what this machine can do.
#include <immintrin.h>

#include <chrono>
#include <cstdint>

#include "kernels/avx512vnni/vnni-kernels.h"

namespace f8net::rt::kernels::avx512vnni {

double vnni_peak_gmacs() {
  // Twelve named accumulators stay in registers (an array would be spilled around the barrier).
  // Distinct starting values, or the compiler merges identical chains into one.
  __m512i c0 = _mm512_set1_epi32(0), c1 = _mm512_set1_epi32(1), c2 = _mm512_set1_epi32(2),
          c3 = _mm512_set1_epi32(3), c4 = _mm512_set1_epi32(4), c5 = _mm512_set1_epi32(5),
          c6 = _mm512_set1_epi32(6), c7 = _mm512_set1_epi32(7), c8 = _mm512_set1_epi32(8),
          c9 = _mm512_set1_epi32(9), c10 = _mm512_set1_epi32(10), c11 = _mm512_set1_epi32(11);
  __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  using Clock = std::chrono::steady_clock;
  const Clock::time_point t0 = Clock::now();
  int64_t iters = 0;
  double seconds = 0;
  do {
    __asm__ volatile("" : "+v"(a), "+v"(b));  // the operands are not known constants
    for (int r = 0; r < 4096; ++r) {
      c0 = _mm512_dpbusd_epi32(c0, a, b);
      c1 = _mm512_dpbusd_epi32(c1, a, b);
      c2 = _mm512_dpbusd_epi32(c2, a, b);
      c3 = _mm512_dpbusd_epi32(c3, a, b);
      c4 = _mm512_dpbusd_epi32(c4, a, b);
      c5 = _mm512_dpbusd_epi32(c5, a, b);
      c6 = _mm512_dpbusd_epi32(c6, a, b);
      c7 = _mm512_dpbusd_epi32(c7, a, b);
      c8 = _mm512_dpbusd_epi32(c8, a, b);
      c9 = _mm512_dpbusd_epi32(c9, a, b);
      c10 = _mm512_dpbusd_epi32(c10, a, b);
      c11 = _mm512_dpbusd_epi32(c11, a, b);
    }
    iters += 4096;
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (seconds < 0.02);
  const __m512i all = _mm512_add_epi32(
      _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                       _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7))),
      _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11)));
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, all);
  __asm__ volatile("" : : "r"(lanes[0]) : "memory");
  return static_cast<double>(iters) * 12 * 64 / seconds * 1e-9;
}

}  // namespace f8net::rt::kernels::avx512vnni
