// `f8net inspect MODEL.f8 [--json]`: the model's metadata and one line per op (inputs, output
// shape and type, FLs, shifts, MACs), then totals, including the number of multiplications with
// an operand wider than 8 bits, counted from the ops' operand types (F8Net's promise: 0), and the
// word lengths of the weight and activation codes (narrower than 8 bits: " 4-bit" on the op).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli-util.h"
#include "commands.h"

namespace f8net::cli {
namespace {

struct InspectArgs {
  std::string model;
  bool json = false;
  int threads = 1;
};

// "7" when every channel has FL 7, else "3..9".
std::string fl_range(const std::vector<int32_t>& fl) {
  if (fl.empty()) return "-";
  const auto [lo, hi] = std::minmax_element(fl.begin(), fl.end());
  return *lo == *hi ? std::to_string(*lo) : std::to_string(*lo) + ".." + std::to_string(*hi);
}
std::string range_of(std::vector<int32_t> v) { return fl_range(v); }

std::string shape_str(const rt::Shape& s) {
  return "[" + std::to_string(s.c) + "," + std::to_string(s.h) + "," + std::to_string(s.w) + "]";
}

// " 4-bit" for a word length other than 8, else nothing.
std::string bits_str(int32_t bits) { return bits == 8 ? "" : " " + std::to_string(bits) + "-bit"; }

// What the op does to FLs, as text: weight FLs, requantize shifts, add alignment, pool shift.
std::string shift_str(const rt::OpDef& op, const rt::GraphInfo& g, size_t i) {
  const rt::ValueInfo& src = g.values[static_cast<size_t>(op.inputs[0])];
  const rt::ValueInfo& out = g.values[i + 1];
  switch (op.type) {
    case rt::OpType::kConv2d:
    case rt::OpType::kFullyConnected:
      return "wfl " + range_of(op.weight_fl) + bits_str(op.code_bits);
    case rt::OpType::kRequantize: {
      std::vector<int32_t> d(src.fl.size());
      for (size_t c = 0; c < d.size(); ++c) d[c] = src.fl[c] - op.out_fl;
      return "shift >>" + range_of(d) + (op.out_signed ? " signed" : " unsigned") +
             bits_str(op.code_bits);
    }
    case rt::OpType::kAdd: {
      const rt::ValueInfo& b = g.values[static_cast<size_t>(op.inputs[1])];
      std::vector<int32_t> l1(out.fl.size()), l2(out.fl.size());
      for (size_t c = 0; c < l1.size(); ++c) {
        l1[c] = out.fl[c] - src.fl[c];
        l2[c] = out.fl[c] - b.fl[c];
      }
      return "align <<" + range_of(l1) + ",<<" + range_of(l2);
    }
    case rt::OpType::kGlobalSumPool:
      return "FL +" + std::to_string(op.shift);
    case rt::OpType::kMaxPool:
      return "k" + std::to_string(op.kernel_h) + "x" + std::to_string(op.kernel_w) + " s" +
             std::to_string(op.stride_h) + " p" + std::to_string(op.pad_h);
    case rt::OpType::kRelu:
      return "-";
  }
  return "-";
}

std::string geometry_str(const rt::OpDef& op) {
  if (op.type != rt::OpType::kConv2d) return "";
  std::string s = " " + std::to_string(op.kernel_h) + "x" + std::to_string(op.kernel_w) + "/s" +
                  std::to_string(op.stride_h) +
                  (op.stride_w != op.stride_h ? "," + std::to_string(op.stride_w) : "") + " p" +
                  std::to_string(op.pad_h) +
                  (op.pad_w != op.pad_h ? "," + std::to_string(op.pad_w) : "");
  if (op.dilation_h != 1 || op.dilation_w != 1) s += " d" + std::to_string(op.dilation_h);
  if (op.groups != 1) s += " dw";
  return s;
}

void run_inspect(const InspectArgs& a) {
  rt::Interpreter it;
  load_interpreter(a.model, a.threads, &it);
  const rt::ModelDef& m = it.model();
  const rt::GraphInfo& g = it.graph_info();
  const rt::Metadata& md = m.metadata;
  const char* pre = md.preprocessing.mode == rt::Preprocess::kRaw01        ? "raw01"
                    : md.preprocessing.mode == rt::Preprocess::kNormalized ? "normalized"
                                                                           : "codes";
  std::cout << "model " << (md.name.empty() ? "(unnamed)" : printable(md.name)) << ": input "
            << shape_str(m.input.shape) << " " << rt::dtype_name(m.input.dtype) << " FL "
            << m.input.fl << ", preprocessing " << pre
            << (md.preprocessing.replicate_gray ? " (gray replicated)" : "") << ", "
            << md.class_names.size() << " class names\n";
  for (const auto& kv : md.provenance) {
    std::cout << "  " << printable(kv.first) << ": " << printable(kv.second) << "\n";
  }
  char line[512];
  std::snprintf(line, sizeof(line), "%4s  %-26s %-8s %-16s %-6s %-7s %-24s %12s\n", "#", "op",
                "inputs", "output", "type", "FL", "shifts", "MACs");
  std::cout << line;
  int64_t macs = 0, wide = 0, params = 0, worst_bound = 0;
  std::vector<int32_t> weight_bits, act_bits;
  nlohmann::json ops_json = nlohmann::json::array();
  for (size_t i = 0; i < m.ops.size(); ++i) {
    const rt::OpDef& op = m.ops[i];
    const rt::ValueInfo& v = g.values[i + 1];
    const rt::OpInfo& info = g.ops[i];
    std::string inputs = std::to_string(op.inputs[0]);
    if (op.type == rt::OpType::kAdd) inputs += "," + std::to_string(op.inputs[1]);
    const std::string name = std::string(rt::op_type_name(op.type)) + geometry_str(op);
    const std::string shifts = shift_str(op, g, i);
    std::snprintf(line, sizeof(line), "%4zu  %-26s %-8s %-16s %-6s %-7s %-24s %12lld\n", i,
                  name.c_str(), inputs.c_str(), shape_str(v.shape).c_str(), rt::dtype_name(v.dtype),
                  fl_range(v.fl).c_str(), shifts.c_str(), static_cast<long long>(info.macs));
    std::cout << line;
    macs += info.macs;
    wide += info.wide_multiplications;
    params += static_cast<int64_t>(op.weights.size() + op.bias.size());
    worst_bound = std::max(worst_bound, info.accumulator_bound);
    if (op.type == rt::OpType::kConv2d || op.type == rt::OpType::kFullyConnected) {
      weight_bits.push_back(op.code_bits);
    }
    if (op.type == rt::OpType::kRequantize) act_bits.push_back(op.code_bits);
    nlohmann::json op_inputs = {op.inputs[0]};
    if (op.type == rt::OpType::kAdd) op_inputs.push_back(op.inputs[1]);
    ops_json.push_back({{"index", i},
                        {"op", rt::op_type_name(op.type)},
                        {"inputs", op_inputs},
                        {"shape", {v.shape.c, v.shape.h, v.shape.w}},
                        {"dtype", rt::dtype_name(v.dtype)},
                        {"fl", fl_range(v.fl)},
                        {"shifts", shifts},
                        {"code_bits", op.code_bits},
                        {"macs", info.macs},
                        {"wide_multiplications", info.wide_multiplications}});
  }
  const rt::TensorView out = it.output();
  std::snprintf(line, sizeof(line),
                "totals: %zu ops, %lld parameters, %lld MACs (all int8 x 8-bit), "
                "wide multiplications (> 8-bit operands): %lld, max accumulator bound %lld < 2^31, "
                "arena %zu bytes, packed weights %zu bytes (isa %s), output %s int32 FL %s\n",
                m.ops.size(), static_cast<long long>(params), static_cast<long long>(macs),
                static_cast<long long>(wide), static_cast<long long>(worst_bound), it.arena_bytes(),
                it.packed_bytes(), it.isa(), shape_str(out.shape).c_str(),
                fl_range(g.values.back().fl).c_str());
  std::cout << line;
  std::cout << "word lengths: weight codes " << fl_range(weight_bits) << " bits, activation codes "
            << fl_range(act_bits) << " bits (input " << g.values[0].code_bits << ")\n";
  if (a.json) {
    const nlohmann::json totals = {{"ops", m.ops.size()},
                                   {"parameters", params},
                                   {"macs", macs},
                                   {"wide_multiplications", wide},
                                   {"max_accumulator_bound", worst_bound},
                                   {"weight_bits", fl_range(weight_bits)},
                                   {"activation_bits", fl_range(act_bits)},
                                   {"arena_bytes", it.arena_bytes()},
                                   {"packed_bytes", it.packed_bytes()},
                                   {"isa", it.isa()}};
    std::cout << json_text({{"model", md.name}, {"ops", ops_json}, {"totals", totals}}) << "\n";
  }
}

void add_inspect(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd =
      app.add_subcommand("inspect", "Show an .f8 model's ops, formats, shifts and MACs");
  cmd->add_option("model", args->model, "Exported .f8 model")->required();
  cmd->add_flag("--json", args->json, "Also print one JSON object (last line)");
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace

F8NET_REGISTER_COMMAND(60, add_inspect);

}  // namespace f8net::cli
