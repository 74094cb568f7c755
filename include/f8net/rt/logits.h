// Reading a model's int32 logits, which carry per-channel FLs: the exact value of a channel and
// the top-k ranking (by logit * 2^-FL, exact in double, so the order never depends on float
// rounding; ties go to the lower index).
#pragma once

#include <vector>

#include "f8net/rt/tensor.h"

namespace f8net::rt {

// logit * 2^-FL of channel c, exact in double.
double logit_value(const TensorView& logits, int c);

// Indices of the k largest output values (k clamped to the channel count), best first.
std::vector<int> top_k(const TensorView& logits, int k);

}  // namespace f8net::rt
