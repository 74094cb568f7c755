// The summation order of every tensor statistic the FL rules compute (metric sums, grid-search
// squared errors). A sum over n terms is formed block by block: each block of kSumBlock
// consecutive terms is summed on its own, and the block sums are added in block order. Blocks can
// therefore be shared among threads without changing a single bit of the result, and the sum is
// more accurate than one long running sum. Within a block the order is fixed too: eight
// interleaved partial sums, combined in a fixed tree (combine_partials).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace f8net::fixed {

// Terms per block. Part of the definition of every statistic: changing it changes results.
constexpr size_t kSumBlock = 4096;

// Number of blocks of n terms.
constexpr size_t sum_blocks(size_t n) { return (n + kSumBlock - 1) / kSumBlock; }

// The default way to run body(first_block, end_block) over [0, blocks): all on this thread.
// Callers with a thread pool pass their own; any split of the range gives the same result.
struct SerialBlocks {
  template <typename Body>
  void operator()(size_t blocks, Body&& body) const {
    if (blocks > 0) body(size_t{0}, blocks);
  }
};

// Partial sums per block: term i of a block (counted from the block's start) goes to partial
// i % kSumLanes, each partial in index order. Eight independent chains let the additions overlap
// and map onto SIMD lanes (one 8-double, two 4-double or four 2-double registers).
constexpr size_t kSumLanes = 8;

// The block's sum from its eight partials: ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7)),
// the order in which SIMD registers of 8, 4 and 2 lanes fold naturally (halves added lane-wise).
inline double combine_partials(const double* p) {
  return ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
}

// Sum of term(x[i]) over one block, i in [0, n), in the order above.
template <typename T, typename Term>
double block_sum(const T* x, size_t n, const Term& term) {
  double p[kSumLanes] = {};
  size_t i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes) {
    for (size_t l = 0; l < kSumLanes; ++l) p[l] += term(x[i + l]);
  }
  for (size_t l = 0; i < n; ++i, ++l) p[l] += term(x[i]);
  return combine_partials(p);
}

// Sum of term(x[i]) over i in [0, n) in the blocked order above; `parallel` may spread the blocks
// over threads. A single block needs no scratch memory.
template <typename T, typename Term, typename Parallel = SerialBlocks>
double blocked_sum(const T* x, size_t n, const Term& term, const Parallel& parallel = {}) {
  const size_t blocks = sum_blocks(n);
  if (blocks <= 1) return n ? 0.0 + block_sum(x, n, term) : 0.0;
  std::vector<double> partial(blocks);
  parallel(blocks, [&](size_t first, size_t end) {
    for (size_t b = first; b < end; ++b) {
      const size_t begin = b * kSumBlock;
      partial[b] = block_sum(x + begin, std::min(kSumBlock, n - begin), term);
    }
  });
  double sum = 0.0;
  for (double p : partial) sum += p;
  return sum;
}

}  // namespace f8net::fixed
