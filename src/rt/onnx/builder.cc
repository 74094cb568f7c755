// GraphBuilder: initializers go in as raw_data (little-endian, as ONNX specifies), names are
// made unique with a numeric suffix, and scalar constants are created once per value.
#include "builder.h"

#include <cstring>

namespace f8net::rt::onnx_export {

std::string GraphBuilder::fresh(const std::string& base) {
  const int n = used_[base]++;
  return n == 0 ? base : base + "_" + std::to_string(n);
}

std::string GraphBuilder::tensor(const std::string& base, int32_t elem_type,
                                 const std::vector<int64_t>& dims, const void* data, size_t bytes) {
  onnx::TensorProto* t = graph_->add_initializer();
  const std::string name = fresh(base);
  t->set_name(name);
  t->set_data_type(elem_type);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(std::string(static_cast<const char*>(data), bytes));
  return name;
}

std::string GraphBuilder::i8(const std::string& base, const std::vector<int64_t>& dims,
                             const std::vector<int8_t>& v) {
  return tensor(base, onnx::TensorProto::INT8, dims, v.data(), v.size());
}

std::string GraphBuilder::i32(const std::string& base, const std::vector<int64_t>& dims,
                              const std::vector<int32_t>& v) {
  return tensor(base, onnx::TensorProto::INT32, dims, v.data(), v.size() * 4);
}

std::string GraphBuilder::i64(const std::string& base, const std::vector<int64_t>& v) {
  return tensor(base, onnx::TensorProto::INT64, {static_cast<int64_t>(v.size())}, v.data(),
                v.size() * 8);
}

std::string GraphBuilder::f32(const std::string& base, const std::vector<int64_t>& dims,
                              const std::vector<float>& v) {
  return tensor(base, onnx::TensorProto::FLOAT, dims, v.data(), v.size() * 4);
}

std::string GraphBuilder::scalar_f32(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  const std::string key = "f" + std::to_string(bits);
  auto it = scalars_.find(key);
  if (it != scalars_.end()) return it->second;
  return scalars_[key] = tensor("const_f32", onnx::TensorProto::FLOAT, {}, &v, 4);
}

std::string GraphBuilder::scalar_u8(uint8_t v) {
  const std::string key = "u" + std::to_string(v);
  auto it = scalars_.find(key);
  if (it != scalars_.end()) return it->second;
  return scalars_[key] = tensor("const_u8", onnx::TensorProto::UINT8, {}, &v, 1);
}

std::string GraphBuilder::scalar_i8(int8_t v) {
  const std::string key = "s" + std::to_string(v);
  auto it = scalars_.find(key);
  if (it != scalars_.end()) return it->second;
  return scalars_[key] = tensor("const_i8", onnx::TensorProto::INT8, {}, &v, 1);
}

std::string GraphBuilder::scalar_i32(int32_t v) {
  const std::string key = "i" + std::to_string(v);
  auto it = scalars_.find(key);
  if (it != scalars_.end()) return it->second;
  return scalars_[key] = tensor("const_i32", onnx::TensorProto::INT32, {}, &v, 4);
}

std::string GraphBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                               const std::string& out_base) {
  onnx::NodeProto* n = graph_->add_node();
  n->set_op_type(op);
  n->set_name("n" + std::to_string(graph_->node_size() - 1) + "_" + op);
  for (const std::string& in : inputs) n->add_input(in);
  const std::string out = fresh(out_base);
  n->add_output(out);
  last_ = n;
  return out;
}

void GraphBuilder::attr_int(const std::string& name, int64_t v) {
  onnx::AttributeProto* a = last_->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void GraphBuilder::attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  onnx::AttributeProto* a = last_->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

}  // namespace f8net::rt::onnx_export
