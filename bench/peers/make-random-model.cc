// make-random-model: a warmed random-weight fixed-point model of an F8Net architecture, exported
// through qat to .f8, plus its ONNX forms (exact QDQ, and the float reference), for the peer
// benchmark. Speed only: the weights are random (BN affine and clipping levels randomized, three
// training-mode forwards on random images to warm the running statistics and FLs).
//   make-random-model ARCH SIZE OUT_PREFIX [WIDTH] [CLASSES]  -> PREFIX.f8, .onnx, -float.onnx
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "f8net/qat/export.h"
#include "f8net/qat/models.h"
#include "f8net/qat/runtime-model.h"
#include "f8net/rt/model-file.h"
#include "f8net/rt/onnx.h"

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "make-random-model: %s\n", msg.c_str());
  return 1;
}

bool ends_with(const std::string& k, const std::string& s) {
  return k.size() >= s.size() && k.compare(k.size() - s.size(), s.size(), s) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return fail("usage: make-random-model ARCH SIZE OUT_PREFIX [WIDTH] [CLASSES]");
  using namespace f8net;
  try {
    torch::manual_seed(1);
    qat::ModelOptions o;
    o.arch = argv[1];
    o.in_channels = 3;
    o.input_size = std::atoi(argv[2]);
    o.width_mult = argc > 4 ? std::atof(argv[4]) : 1.0;
    o.num_classes = argc > 5 ? std::atoi(argv[5]) : 1000;
    o.quant.mode = qat::Mode::kFixed;
    o.quant.per_channel = true;
    o.quant.quant_bias = true;
    qat::Net net = qat::make_model(o);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : net->named_parameters()) {
        if (ends_with(p.key(), "bn_weight")) p.value().uniform_(0.5, 1.5);
        if (ends_with(p.key(), "bn_bias")) p.value().uniform_(-0.3, 0.3);
        if (ends_with(p.key(), "alpha")) p.value().uniform_(4.0, 12.0);
      }
      net->train();
      for (int i = 0; i < 3; ++i) net->forward(torch::rand({2, 3, o.input_size, o.input_size}));
      net->eval();
    }
    rt::Metadata meta;
    meta.name = o.arch + "-" + std::to_string(o.input_size) + "-random";
    meta.provenance = {{"tool", "bench/peers/make-random-model"},
                       {"weights", "random (speed only)"}};
    const rt::ModelDef model = qat::to_runtime_model(qat::exact_graph(*net), meta);
    const std::string prefix = argv[3];
    rt::Status st = rt::write_model_file(model, prefix + ".f8");
    if (!st) return fail(st.message());
    rt::OnnxExportReport rep;
    st = rt::write_onnx_file(model, rt::OnnxOptions{}, prefix + ".onnx", &rep);
    if (!st) return fail(st.message());
    std::printf("%s: %zu ops; ONNX %d nodes, %d QDQ conv, %d integer conv, bit_exact_in_ort=%d\n",
                prefix.c_str(), model.ops.size(), rep.nodes, rep.qdq_convs, rep.integer_convs,
                rep.bit_exact_in_ort ? 1 : 0);
    rt::OnnxOptions fo;
    fo.float_reference = true;
    st = rt::write_onnx_file(model, fo, prefix + "-float.onnx", nullptr);
    if (!st) return fail(st.message());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}
