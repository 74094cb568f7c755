// ONNX export of runtime-only models (no LibTorch): every model passes onnx.checker, and ONNX
// Runtime 1.30 with all graph optimizations and with none reproduces f8net's int32 logits bit for
// bit on random and extreme inputs; ORT's optimized ResNet-18-shaped graph keeps no float
// Conv/Gemm; bounds at or over 2^24 are reported (and --require-exact style refusal is possible).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "onnx/ort-harness.h"
#include "onnx/resnet-shaped.h"
#include "support/tiny-models.h"

namespace f8net::testing {
namespace {

std::map<std::string, std::string> metadata_of(const std::string& bytes) {
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromString(bytes));
  std::map<std::string, std::string> md;
  for (const auto& e : proto.metadata_props()) md[e.key()] = e.value();
  return md;
}

// op_type (with domain) -> count, of an ONNX file.
std::map<std::string, int> op_counts(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromString(ss.str())) << path;
  std::map<std::string, int> n;
  for (const auto& node : proto.graph().node()) ++n[node.domain() + ":" + node.op_type()];
  return n;
}

TEST(OnnxRuntime, TestVectors) {
  expect_ort_bit_exact(tv8_model(), "tv8");
  expect_ort_bit_exact(tv9_model(), "tv9");
  expect_ort_bit_exact(tv10_model(false), "tv10-pool");
  expect_ort_bit_exact(tv10_model(true), "tv10-fc");
}

TEST(OnnxRuntime, RandomCnnEveryOp) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    for (int32_t channels : {1, 3}) {
      const rt::OnnxExportReport r = expect_ort_bit_exact(
          random_cnn(seed, channels),
          "random-cnn-" + std::to_string(seed) + "-" + std::to_string(channels), 6, seed);
      EXPECT_GT(r.integer_convs, 0);
    }
  }
}

TEST(OnnxRuntime, SignedInputCodes) {
  rt::ModelDef m = random_cnn(11, 3);
  m.input.dtype = rt::DType::kInt8;
  m.input.fl = 7;
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
  m.metadata.preprocessing.replicate_gray = false;
  const rt::OnnxExportReport r = expect_ort_bit_exact(m, "random-cnn-signed", 6, 11);
  EXPECT_EQ(r.input_type, "int8 codes");
}

TEST(OnnxRuntime, ResnetShapedFusesEveryConv) {
  const rt::ModelDef m = resnet18_shaped(5);
  const rt::OnnxExportReport r = expect_ort_bit_exact(m, "resnet18-shaped", 3, 5);
  EXPECT_GT(r.qdq_convs, 0);
  // ORT's optimized graph: integer kernels only, no float convolution or matrix product.
  const std::string path = temp_dir() + "/resnet18-shaped.onnx";
  const std::string optimized = temp_dir() + "/resnet18-shaped.opt.onnx";
  ort_outputs(path, m, random_codes(m, 1, 2), "all", optimized);
  const std::map<std::string, int> ops = op_counts(optimized);
  int qlinear = 0;
  for (const auto& [op, n] : ops) {
    const std::string type = op.substr(op.find(':') + 1);
    EXPECT_TRUE(type != "Conv" && type != "FusedConv" && type != "Gemm" && type != "FusedGemm" &&
                type != "MatMul" && type != "FusedMatMul" && type != "MatMulNBits")
        << "float " << op << " x" << n << " left in ORT's optimized graph";
    if (type == "QLinearConv") qlinear += n;
  }
  EXPECT_EQ(qlinear, r.qdq_convs) << "every QDQ conv should become a QLinearConv";
}

// `m` with `weight_bits`-wide weight codes and `act_bits`-wide activation codes (issue 11): the
// weights clamped to +-(2^(n-1)-1), every requantize's FL capped at what the width allows.
rt::ModelDef narrowed(rt::ModelDef m, int32_t weight_bits, int32_t act_bits) {
  for (rt::OpDef& op : m.ops) {
    if (op.type == rt::OpType::kConv2d || op.type == rt::OpType::kFullyConnected) {
      const int w_max = (1 << (weight_bits - 1)) - 1;
      for (int8_t& w : op.weights) w = static_cast<int8_t>(std::clamp<int>(w, -w_max, w_max));
      op.code_bits = weight_bits;
    }
    if (op.type == rt::OpType::kRequantize) {
      const int32_t fl_max = op.out_signed ? act_bits - 1 : act_bits;
      op.out_fl = std::min(op.out_fl, fl_max);
      op.code_bits = act_bits;
    }
  }
  return m;
}

// The same model with every code 8 bits wide again (weights unchanged).
rt::ModelDef widened(rt::ModelDef m) {
  for (rt::OpDef& op : m.ops) op.code_bits = 8;
  return m;
}

// 4- and 6-bit activations (unsigned and, after the depthwise conv, signed on the zero-point-128
// grid) and weights: ORT with all optimizations and none matches f8net bit for bit, on inputs
// that drive the narrow saturation (f8net's logits differ from the 8-bit container's).
TEST(OnnxRuntime, NarrowCodesFourAndSixBit) {
  for (int32_t bits : {4, 6}) {
    for (uint64_t seed = 1; seed <= 2; ++seed) {
      for (bool signed_input : {false, true}) {
        rt::ModelDef m = narrowed(random_cnn(seed, 3), bits, bits);
        if (signed_input) {
          m.input.dtype = rt::DType::kInt8;
          m.input.fl = 7;
          m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
          m.metadata.preprocessing.replicate_gray = false;
        }
        const std::string name = "narrow-" + std::to_string(bits) + "-" + std::to_string(seed) +
                                 (signed_input ? "-signed" : "");
        SCOPED_TRACE(name);
        const rt::OnnxExportReport r = expect_ort_bit_exact(m, name, 6, seed);
        EXPECT_GT(r.clips, 0) << "a narrow requantize needs its Clip on the uint8 grid";
        const std::vector<uint8_t> codes = random_codes(m, 6, seed);
        EXPECT_NE(f8net_logits(m, codes).values, f8net_logits(widened(m), codes).values)
            << "the inputs never reach the narrow saturation";
      }
    }
  }
}

// Narrow codes keep ORT's fusion: every QDQ conv of a 4-bit ResNet-18-shaped model still becomes
// a QLinearConv (the Clip after its QuantizeLinear is a uint8 op ORT runs as is).
TEST(OnnxRuntime, NarrowResnetShapedStillFuses) {
  const rt::ModelDef m = narrowed(resnet18_shaped(6), 4, 4);
  const rt::OnnxExportReport r = expect_ort_bit_exact(m, "resnet18-shaped-w4a4", 3, 6);
  EXPECT_GT(r.qdq_convs, 0);
  const std::string path = temp_dir() + "/resnet18-shaped-w4a4.onnx";
  const std::string optimized = temp_dir() + "/resnet18-shaped-w4a4.opt.onnx";
  ort_outputs(path, m, random_codes(m, 1, 2), "all", optimized);
  int qlinear = 0;
  for (const auto& [op, n] : op_counts(optimized)) {
    const std::string type = op.substr(op.find(':') + 1);
    EXPECT_TRUE(type != "Conv" && type != "FusedConv" && type != "Gemm" && type != "FusedGemm")
        << "float " << op << " x" << n << " left in ORT's optimized graph";
    if (type == "QLinearConv") qlinear += n;
  }
  EXPECT_EQ(qlinear, r.qdq_convs);
}

TEST(OnnxRuntime, MetadataCarriesClassesPreprocessingProvenance) {
  const rt::ModelDef m = random_cnn(4, 3);
  std::string bytes;
  rt::OnnxExportReport r;
  ASSERT_TRUE(rt::export_onnx(m, rt::OnnxOptions{}, &bytes, &r).is_ok());
  std::map<std::string, std::string> md = metadata_of(bytes);
  EXPECT_EQ(md["bit_exact_in_ort"], "1");
  EXPECT_EQ(md["class_names"].rfind("[\"class0\",\"class1\"", 0), 0u) << md["class_names"];
  EXPECT_NE(md["preprocessing"].find("\"mode\":\"raw01\""), std::string::npos);
  EXPECT_NE(md["preprocessing"].find("\"replicate_gray\":true"), std::string::npos);
  EXPECT_EQ(md["provenance.git"], "test");
  EXPECT_EQ(md["f8net.output_fl"].front(), '[');
}

// Class names from user files: quotes, backslashes, control bytes and bytes that are not UTF-8
// still give one valid JSON array (bad UTF-8 becomes U+FFFD), in order.
TEST(OnnxRuntime, ClassNamesAreEscapedJson) {
  rt::ModelDef m = random_cnn(4, 3);
  ASSERT_GE(m.metadata.class_names.size(), 3u);
  m.metadata.class_names[0] = "say \"hi\"\\";
  m.metadata.class_names[1] = std::string("tab\tnl\n\x01", 8);
  m.metadata.class_names[2] = "bad \xff\xfe utf8";
  std::string bytes;
  rt::OnnxExportReport r;
  ASSERT_TRUE(rt::export_onnx(m, rt::OnnxOptions{}, &bytes, &r).is_ok());
  const std::string classes = metadata_of(bytes)["class_names"];
  EXPECT_EQ(
      classes.rfind(
          "[\"say \\\"hi\\\"\\\\\",\"tab\\tnl\\n\\u0001\",\"bad \xef\xbf\xbd\xef\xbf\xbd utf8\"",
          0),
      0u)
      << classes;
}

// sum|w| * max|x| = 1024 * 127 * 255 >= 2^24: the float path may round, and the report says where.
TEST(OnnxRuntime, LargeAccumulatorIsReportedNotHidden) {
  rt::ModelDef m;
  m.input = {rt::Shape{1024, 1, 1}, rt::DType::kUint8, 8};
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
  rt::add_fully_connected(&m, 0, 2, std::vector<int8_t>(2048, 127), {0, 0}, {7});
  std::string bytes;
  rt::OnnxExportReport r;
  ASSERT_TRUE(rt::export_onnx(m, rt::OnnxOptions{}, &bytes, &r).is_ok());
  EXPECT_FALSE(r.bit_exact_in_ort);
  ASSERT_EQ(r.inexact.size(), 1u);
  EXPECT_EQ(r.inexact[0].op, 0);
  EXPECT_EQ(r.inexact[0].bound, 1024 * 127 * 255);
  EXPECT_GT(r.inexact[0].max_error_lsb, 0.0);
  EXPECT_NE(rt::describe_inexact(r).find("op 0 (FullyConnected)"), std::string::npos);
  EXPECT_EQ(metadata_of(bytes)["bit_exact_in_ort"], "0");
}

TEST(OnnxRuntime, InvalidModelIsRefusedAndNothingWritten) {
  rt::ModelDef m = tv9_model();
  m.ops[0].weights.push_back(1);  // one weight too many
  const std::string path = temp_dir() + "/invalid.onnx";
  const rt::Status st = rt::write_onnx_file(m, rt::OnnxOptions{}, path, nullptr);
  EXPECT_FALSE(st.is_ok());
  EXPECT_FALSE(std::ifstream(path).good());
  EXPECT_TRUE(no_temporary_left(path));
}

TEST(OnnxRuntime, FloatReferenceRunsAndSaysItIsNotExact) {
  const rt::ModelDef m = random_cnn(2, 3);
  rt::OnnxOptions o;
  o.float_reference = true;
  const std::string path = temp_dir() + "/float-ref.onnx";
  rt::OnnxExportReport r;
  ASSERT_TRUE(rt::write_onnx_file(m, o, path, &r).is_ok());
  EXPECT_FALSE(r.bit_exact_in_ort);
  expect_checker_accepts(path);
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(metadata_of(ss.str())["bit_exact_in_ort"], "0");
  EXPECT_EQ(op_counts(path).count(":QuantizeLinear"), 0u);
}

}  // namespace
}  // namespace f8net::testing
