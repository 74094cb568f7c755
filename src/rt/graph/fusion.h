// Fusion at prepare: the IR ops grouped into chains, each run as one kernel call. A chain starts
// at a head op (any op) and absorbs, while the current value has exactly one reader and is not
// the graph output: one Add whose other operand is already computed (its producer precedes the
// head), then ReLU, then Requantize (which ends the chain: codes). Only chain ends are stored;
// the absorbed ops' semantics are applied in the head kernel's epilogue, in IR order.
#pragma once

#include <cstdint>
#include <vector>

#include "f8net/rt/model.h"

namespace f8net::rt {

struct FusedChain {
  int32_t head = 0;     // op index
  int32_t add_op = -1;  // absorbed ops, -1 when absent
  int32_t relu_op = -1;
  int32_t requant_op = -1;
  int32_t add_other = -1;  // value id of the Add's other operand
  int32_t out_value = 0;   // the value this chain stores
};

std::vector<FusedChain> plan_fusion(const ModelDef& model);

}  // namespace f8net::rt
