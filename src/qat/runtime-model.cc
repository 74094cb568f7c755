// ExactGraph -> rt::ModelDef: the recorded model gets its metadata and goes through the runtime's
// validation; the shapes and FLs validation infers are then compared with the evaluation's, value
// by value, which proves both sides agree on every op's semantics.
#include "f8net/qat/runtime-model.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace f8net::qat {
namespace {

// The CLI adds the command's name ("export: ..."); the library names only the problem.
[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

int32_t to_i32(int64_t v, const std::string& what) {
  if (v < 0 || v > 2147483647) fail(what + " out of range: " + std::to_string(v));
  return static_cast<int32_t>(v);
}

rt::Shape shape_of(const ExactValue& value) {
  if (value.shape.size() == 3) {
    return {to_i32(value.shape[0], "C"), to_i32(value.shape[1], "H"), to_i32(value.shape[2], "W")};
  }
  if (value.shape.size() == 1) return {to_i32(value.shape[0], "C"), 1, 1};
  fail("value '" + value.name + "' has a shape of rank " + std::to_string(value.shape.size()));
}

}  // namespace

rt::ModelDef to_runtime_model(const ExactGraph& graph, const rt::Metadata& metadata) {
  if (!graph.problem.empty()) fail(graph.problem);
  if (graph.values.empty() || graph.model.ops.empty()) fail("the exact evaluation recorded no ops");
  if (graph.values.size() != graph.model.ops.size() + 1) {
    fail("the exact evaluation recorded " + std::to_string(graph.values.size()) + " values for " +
         std::to_string(graph.model.ops.size()) + " ops");
  }
  const rt::Preprocess pre = metadata.preprocessing.mode;
  if (graph.raw01 && pre != rt::Preprocess::kRaw01) {
    fail("the model takes raw [0,1] images but the metadata says otherwise");
  }
  if (!graph.raw01 && pre == rt::Preprocess::kRaw01) {
    fail("the model takes normalized input but the metadata says raw [0,1] images");
  }
  rt::ModelDef model = graph.model;
  model.metadata = metadata;

  rt::GraphInfo info;
  const rt::Status st = rt::validate_model(model, &info);
  if (!st) fail("the runtime refuses the model: " + st.message());

  // The runtime's inferred shapes, signedness, word lengths and FLs must be the evaluation's.
  for (size_t i = 0; i < graph.values.size(); ++i) {
    const ExactValue& n = graph.values[i];
    const rt::ValueInfo& vi = info.values[i];
    if (vi.shape != shape_of(n)) fail("shape mismatch at value '" + n.name + "'");
    const bool codes = rt::is_code_dtype(vi.dtype);
    if (codes != n.codes) fail("codes/accumulator mismatch at value '" + n.name + "'");
    if (codes && (vi.dtype == rt::DType::kInt8) != n.is_signed) {
      fail("signedness mismatch at value '" + n.name + "'");
    }
    if (codes && vi.code_bits != n.word_bits) {
      fail("code word length mismatch at value '" + n.name + "': runtime " +
           std::to_string(vi.code_bits) + ", training " + std::to_string(n.word_bits));
    }
    for (size_t c = 0; c < vi.fl.size(); ++c) {
      const int32_t want = n.fl.size() == 1 ? n.fl[0] : (c < n.fl.size() ? n.fl[c] : -1);
      if (vi.fl[c] != want) {
        fail("FL mismatch at value '" + n.name + "' channel " + std::to_string(c) + ": runtime " +
             std::to_string(vi.fl[c]) + ", training " + std::to_string(want));
      }
    }
  }
  return model;
}

}  // namespace f8net::qat
