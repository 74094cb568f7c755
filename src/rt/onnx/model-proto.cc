// export_onnx(): validate, bound, judge exactness, build the graph, wrap it in a ModelProto with
// the metadata (class names, preprocessing, provenance, FLs, the bit_exact_in_ort verdict) and
// serialize. write_onnx_file() writes atomically (write_file_atomic).
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "f8net/rt/model-file.h"
#include "f8net/rt/onnx.h"
#include "writer.h"

namespace f8net::rt {
namespace onnx_export {
namespace {

// A JSON string literal (the project's one JSON library); bytes that are not UTF-8 become U+FFFD
// instead of throwing (class names come from user files).
std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string float_text(float v) {
  std::ostringstream s;
  s.precision(9);
  s << v;
  return s.str();
}

std::string preprocessing_json(const ModelDef& m) {
  const Preprocessing& p = m.metadata.preprocessing;
  const char* mode = p.mode == Preprocess::kRaw01        ? "raw01"
                     : p.mode == Preprocess::kNormalized ? "normalized"
                                                         : "codes";
  std::string s = std::string("{\"mode\":\"") + mode +
                  "\",\"replicate_gray\":" + (p.replicate_gray ? "true" : "false");
  if (p.mode == Preprocess::kNormalized) {
    s += ",\"mean\":[";
    for (int c = 0; c < 3; ++c) s += (c ? "," : "") + float_text(p.mean[c]);
    s += "],\"std\":[";
    for (int c = 0; c < 3; ++c) s += (c ? "," : "") + float_text(p.std[c]);
    s += "]";
  }
  return s + ",\"input_dtype\":\"" + dtype_name(m.input.dtype) +
         "\",\"input_fl\":" + std::to_string(m.input.fl) + "}";
}

void add_prop(onnx::ModelProto* model, const std::string& key, const std::string& value) {
  onnx::StringStringEntryProto* e = model->add_metadata_props();
  e->set_key(key);
  e->set_value(value);
}

}  // namespace

void judge_exactness(const ModelDef& m, const GraphInfo& g, const std::vector<ValueBounds>& bounds,
                     OnnxExportReport* report) {
  report->max_bound = 0;
  report->inexact.clear();
  for (size_t i = 0; i < m.ops.size(); ++i) {
    if (g.values[i + 1].dtype != DType::kInt32) continue;  // codes are exact by construction
    const ValueBounds& vb = bounds[i + 1];
    size_t worst = 0;
    for (size_t c = 1; c < vb.mag.size(); ++c) {
      if (vb.mag[c] > vb.mag[worst]) worst = c;
    }
    const int64_t bound = vb.mag[worst];
    // An integer pool holds its sum in int32 (exact below 2^31, checked by integer_pool).
    if (integer_pool(m, g, bounds, i)) continue;
    if (bound > report->max_bound) report->max_bound = bound;
    if (bound < kFloatExactLimit) continue;
    OnnxInexactValue x;
    x.op = static_cast<int32_t>(i);
    x.op_type = op_type_name(m.ops[i].type);
    x.channel = static_cast<int32_t>(worst);
    x.bound = bound;
    x.terms = vb.terms[worst];
    // float32 has 24 significant bits: half an ulp at `bound` is 2^(floor(log2 bound) - 24).
    const int e = static_cast<int>(std::floor(std::log2(static_cast<double>(bound))));
    x.max_error_lsb = static_cast<double>(x.terms) * std::ldexp(1.0, e - 24);
    report->inexact.push_back(x);
  }
  report->bit_exact_in_ort = report->inexact.empty();
}

}  // namespace onnx_export

std::string describe_inexact(const OnnxExportReport& r) {
  std::string s;
  for (const OnnxInexactValue& x : r.inexact) {
    std::ostringstream line;
    line << "op " << x.op << " (" << x.op_type << "): channel " << x.channel << " can reach "
         << x.bound << " >= 2^24 LSBs, so ORT's float32 path may differ from f8net there by up to "
         << x.max_error_lsb << " LSB (" << x.terms << " roundings of half an ulp)\n";
    s += line.str();
  }
  return s;
}

Status export_onnx(const ModelDef& model, const OnnxOptions& options, std::string* bytes,
                   OnnxExportReport* report) {
  if (bytes == nullptr) return Status(StatusCode::kInvalidArgument, "export_onnx: null output");
  GraphInfo g;
  F8NET_RETURN_IF_ERROR(validate_model(model, &g));
  // Weight codes narrower than 8 bits are plain int8 initializers; narrower activation codes get
  // a Clip on the uint8 grid (writer.cc), and the bounds use every value's real code range.
  OnnxExportReport local;
  OnnxExportReport* rep = report ? report : &local;
  *rep = OnnxExportReport{};
  const std::vector<onnx_export::ValueBounds> bounds = onnx_export::compute_bounds(model, g);
  onnx_export::judge_exactness(model, g, bounds, rep);
  if (options.float_reference) rep->bit_exact_in_ort = false;

  onnx::ModelProto proto;
  proto.set_ir_version(7);
  proto.set_producer_name("f8net");
  proto.set_producer_version(options.producer_version);
  proto.set_domain("ai.f8net");
  proto.set_model_version(1);
  onnx::OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  onnx::GraphProto* graph = proto.mutable_graph();
  graph->set_name(model.metadata.name.empty() ? "f8net" : model.metadata.name);
  onnx_export::build_graph(model, g, bounds, options, graph, rep);

  const std::string variant = options.float_reference
                                  ? "float-reference: float32 weights and ops, NOT exact"
                                  : "qdq-exact: power-of-two QDQ, integer logits * 2^-FL";
  proto.set_doc_string("F8Net fixed-point model exported by f8net (" + variant +
                       "); see docs/onnx.md");
  using onnx_export::add_prop;
  using onnx_export::json_string;
  add_prop(&proto, "f8net.variant", variant);
  add_prop(&proto, "bit_exact_in_ort", rep->bit_exact_in_ort ? "1" : "0");
  add_prop(&proto, "f8net.max_float_bound", std::to_string(rep->max_bound));
  if (!rep->inexact.empty()) add_prop(&proto, "f8net.inexact", describe_inexact(*rep));
  add_prop(&proto, "f8net.name", model.metadata.name);
  add_prop(&proto, "preprocessing", onnx_export::preprocessing_json(model));
  std::string classes = "[";
  for (size_t k = 0; k < model.metadata.class_names.size(); ++k) {
    classes += (k ? "," : "") + json_string(model.metadata.class_names[k]);
  }
  add_prop(&proto, "class_names", classes + "]");
  std::string fls = "[";
  const std::vector<int32_t>& out_fl = g.values.back().fl;
  for (size_t c = 0; c < out_fl.size(); ++c) fls += (c ? "," : "") + std::to_string(out_fl[c]);
  add_prop(&proto, "f8net.output_fl", fls + "]");
  for (const auto& kv : model.metadata.provenance)
    add_prop(&proto, "provenance." + kv.first, kv.second);

  if (!proto.SerializeToString(bytes)) {
    return Status(StatusCode::kUnsupported, "the ONNX model does not serialize (over 2 GiB?)");
  }
  return Status::ok();
}

Status write_onnx_file(const ModelDef& model, const OnnxOptions& options, const std::string& path,
                       OnnxExportReport* report) {
  std::string bytes;
  F8NET_RETURN_IF_ERROR(export_onnx(model, options, &bytes, report));
  return write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace f8net::rt
