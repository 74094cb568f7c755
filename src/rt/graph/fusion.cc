// plan_fusion(): one pass over the ops in order; a value's reader count decides whether the
// chain may continue through it. Ops absorbed into an earlier chain are skipped as heads.
#include "graph/fusion.h"

namespace f8net::rt {

std::vector<FusedChain> plan_fusion(const ModelDef& model) {
  const int32_t n_ops = static_cast<int32_t>(model.ops.size());
  std::vector<int32_t> readers(static_cast<size_t>(n_ops) + 1, 0);
  std::vector<int32_t> reader(static_cast<size_t>(n_ops) + 1, -1);
  for (int32_t i = 0; i < n_ops; ++i) {
    for (int32_t v : model.ops[static_cast<size_t>(i)].inputs) {
      if (v < 0) continue;
      ++readers[static_cast<size_t>(v)];
      reader[static_cast<size_t>(v)] = i;
    }
  }
  std::vector<bool> absorbed(static_cast<size_t>(n_ops), false);
  std::vector<FusedChain> chains;
  for (int32_t i = 0; i < n_ops; ++i) {
    if (absorbed[static_cast<size_t>(i)]) continue;
    FusedChain ch;
    ch.head = i;
    int32_t cur = i + 1;
    const OpType head_type = model.ops[static_cast<size_t>(i)].type;
    bool can_add = head_type == OpType::kConv2d || head_type == OpType::kFullyConnected;
    bool can_relu = head_type != OpType::kRequantize && head_type != OpType::kRelu &&
                    head_type != OpType::kMaxPool && head_type != OpType::kGlobalSumPool;
    // A max pool's int32 output may be requantized in its epilogue (the same max, then the
    // same requantize: R18's stem pool writes codes, and its Requantize stage disappears).
    bool can_requant = can_relu || head_type == OpType::kRelu || head_type == OpType::kMaxPool;
    while (cur != n_ops && readers[static_cast<size_t>(cur)] == 1) {
      const int32_t j = reader[static_cast<size_t>(cur)];
      const OpDef& op = model.ops[static_cast<size_t>(j)];
      if (op.type == OpType::kAdd && can_add) {
        const int32_t other = op.inputs[0] == cur ? op.inputs[1] : op.inputs[0];
        if (other == cur || other > i) break;  // the other operand must already exist
        ch.add_op = j;
        ch.add_other = other;
        can_add = false;
      } else if (op.type == OpType::kRelu && can_relu) {
        ch.relu_op = j;
        can_add = can_relu = false;
      } else if (op.type == OpType::kRequantize && can_requant) {
        ch.requant_op = j;
        can_add = can_relu = can_requant = false;
      } else {
        break;
      }
      absorbed[static_cast<size_t>(j)] = true;
      cur = j + 1;
    }
    ch.out_value = cur;
    chains.push_back(ch);
  }
  return chains;
}

}  // namespace f8net::rt
