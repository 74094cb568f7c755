// The summation order of every tensor statistic the FL rules compute (metric sums, grid-search
// squared errors). A sum over n terms is formed block by block: each block of kSumBlock
// consecutive terms is summed on its own, and the block sums are added in block order. Blocks can
// therefore be shared among threads without changing a single bit of the result, and the sum is
// more accurate than one long running sum. Within a block the order is fixed too (see block_sum).
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

// Sum of term(x[i]) over one block, i in [0, n): four interleaved partial sums (term i goes to
// partial i % 4, each in index order), combined as (p0 + p2) + (p1 + p3). Four independent
// chains let the additions overlap instead of waiting on each other.
template <typename T, typename Term>
double block_sum(const T* x, size_t n, const Term& term) {
  double p0 = 0.0, p1 = 0.0, p2 = 0.0, p3 = 0.0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    p0 += term(x[i]);
    p1 += term(x[i + 1]);
    p2 += term(x[i + 2]);
    p3 += term(x[i + 3]);
  }
  if (i < n) p0 += term(x[i++]);
  if (i < n) p1 += term(x[i++]);
  if (i < n) p2 += term(x[i]);
  return (p0 + p2) + (p1 + p3);
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
