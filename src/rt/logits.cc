// Implementation of logits.h.
#include "f8net/rt/logits.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace f8net::rt {

double logit_value(const TensorView& logits, int c) {
  return std::ldexp(static_cast<double>(logits.s32()[c]), -logits.fl[c]);
}

std::vector<int> top_k(const TensorView& logits, int k) {
  const int n = static_cast<int>(logits.shape.elements());
  std::vector<int> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  k = std::max(0, std::min(k, n));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    const double va = logit_value(logits, a), vb = logit_value(logits, b);
    return va > vb || (va == vb && a < b);
  });
  idx.resize(static_cast<size_t>(k));
  return idx;
}

}  // namespace f8net::rt
