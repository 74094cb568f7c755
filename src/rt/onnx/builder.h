// A thin helper over onnx::GraphProto (the Debian libonnx generated classes): unique names,
// typed initializers (scalars are shared by value) and nodes with attributes. It knows nothing
// about f8net; the mapping lives in writer.cc.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace f8net::rt::onnx_export {

class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto* graph) : graph_(graph) {}

  // A tensor name not used before, derived from `base`.
  std::string fresh(const std::string& base);

  // Initializers: raw little-endian data of the given ONNX element type and dims.
  std::string tensor(const std::string& base, int32_t elem_type, const std::vector<int64_t>& dims,
                     const void* data, size_t bytes);
  std::string i8(const std::string& base, const std::vector<int64_t>& dims,
                 const std::vector<int8_t>& v);
  std::string i32(const std::string& base, const std::vector<int64_t>& dims,
                  const std::vector<int32_t>& v);
  std::string i64(const std::string& base, const std::vector<int64_t>& v);  // 1-D
  std::string f32(const std::string& base, const std::vector<int64_t>& dims,
                  const std::vector<float>& v);
  // Shared 0-D constants.
  std::string scalar_f32(float v);
  std::string scalar_u8(uint8_t v);
  std::string scalar_i8(int8_t v);
  std::string scalar_i32(int32_t v);

  // Appends a node with one output named fresh(out_base); returns the output name.
  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::string& out_base);
  onnx::NodeProto* last() { return last_; }
  void attr_int(const std::string& name, int64_t v);
  void attr_ints(const std::string& name, const std::vector<int64_t>& v);

  int32_t node_count() const { return graph_->node_size(); }

 private:
  onnx::GraphProto* graph_;
  onnx::NodeProto* last_ = nullptr;
  std::map<std::string, int> used_;
  std::map<std::string, std::string> scalars_;
};

}  // namespace f8net::rt::onnx_export
