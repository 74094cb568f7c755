// The int8 peak of one core: 16 independent vpdpbusd zmm chains (64 MACs each), so `f8net bench`
// can state a model's GMAC/s as a fraction of what this machine can do.
//
// The loop is inline assembly on purpose: written with intrinsics, GCC 12 copied every
// accumulator through a second register each iteration (24 vmovdqa per 12 vpdpbusd), which costs
// nothing where register moves are eliminated at rename (Zen 4) but halves the measured peak on
// Intel cores, whose vector ALU ports run those moves (Sapphire Rapids read 203 GMAC/s, the
// hardware does 381). Sixteen chains cover the latency of two vpdpbusd per cycle.
// The best of several ~4 ms bursts is taken: on a shared VM one burst may lose its core.
#include <chrono>
#include <cstdint>

#include "kernels/avx512vnni/vnni-kernels.h"

namespace f8net::rt::kernels::avx512vnni {
namespace {

constexpr int64_t kChains = 16;
constexpr int64_t kMacsPerInstruction = 64;

void vnni_chains(int64_t iterations) {
  __asm__ volatile(
      "vpternlogd $0xff, %%zmm16, %%zmm16, %%zmm16\n\t"  // all ones: u8 255 and s8 -1
      "vpabsb %%zmm16, %%zmm17\n\t"                      // s8 1
      "1:\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm0\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm1\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm2\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm3\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm4\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm5\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm6\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm7\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm8\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm9\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm10\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm11\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm12\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm13\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm14\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm15\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : "+r"(iterations)
      :
      : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17");
}

}  // namespace

double vnni_peak_gmacs() {
  using Clock = std::chrono::steady_clock;
  constexpr int64_t kIterations = 1 << 16;  // ~1 ms at 2 instructions per cycle and 2-4 GHz
  double best = 0;
  const Clock::time_point start = Clock::now();
  for (int burst = 0; burst < 24; ++burst) {
    const Clock::time_point t0 = Clock::now();
    for (int r = 0; r < 4; ++r) vnni_chains(kIterations);
    const Clock::time_point t1 = Clock::now();
    const double seconds = std::chrono::duration<double>(t1 - t0).count();
    const double gmacs = 4.0 * kIterations * kChains * kMacsPerInstruction / seconds * 1e-9;
    if (gmacs > best) best = gmacs;
    if (std::chrono::duration<double>(t1 - start).count() > 0.05) break;
  }
  return best;
}

}  // namespace f8net::rt::kernels::avx512vnni
