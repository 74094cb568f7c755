// onnx_verify_main(): the runtime's preprocessing turns each test image into codes; the
// interpreter gives int32 logits; ort-run.js runs the ONNX model on the same codes (one batch
// file, both optimization levels); logits are compared exactly, top-1 agreement is counted.
#include "onnx-verify.h"

#include <cmath>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli-util.h"
#include "commands.h"
#include "f8net/data/idx.h"
#include "f8net/rt/preprocess.h"
#include "ort-subprocess.h"

namespace f8net::cli {

void onnx_verify_main(const OnnxVerifyArgs& a) {
  if (a.model.empty()) throw UsageError("verify: --onnx needs --model MODEL.f8 to compare with");
  rt::Interpreter it;
  load_interpreter(a.model, a.threads, &it);
  const rt::ModelDef& m = it.model();
  const rt::Shape in = m.input.shape;
  data::ImageArray data;
  try {
    data = data::read_idx(a.data_dir + "/t10k-images-idx3-ubyte.gz",
                          a.data_dir + "/t10k-labels-idx1-ubyte.gz");
  } catch (const std::exception& e) {
    throw Error(std::string("verify: ") + e.what());
  }
  if (data.height != in.h || data.width != in.w ||
      (in.c != 1 && !m.metadata.preprocessing.replicate_gray)) {
    throw Error("verify: the data's " + std::to_string(data.width) + "x" +
                std::to_string(data.height) + " gray images do not fit " + a.model);
  }
  const int64_t n = a.limit > 0 && a.limit < data.count ? a.limit : data.count;
  const size_t plane = static_cast<size_t>(data.height * data.width);
  const size_t per = it.input().bytes();
  const int64_t outs = it.output().shape.elements();
  const int64_t hw = int64_t{it.output().shape.h} * it.output().shape.w;
  std::vector<uint8_t> codes(per * static_cast<size_t>(n));
  std::vector<int32_t> logits(static_cast<size_t>(n * outs));
  std::vector<int32_t> fl(static_cast<size_t>(outs));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* px = data.pixels.data() + static_cast<size_t>(i) * plane;
    rt::Status s = rt::image_to_codes(px, 1, m.input, m.metadata.preprocessing, it.input_data());
    if (s.is_ok()) s = it.run();
    if (!s.is_ok()) throw Error("verify: image " + std::to_string(i) + ": " + s.message());
    std::memcpy(codes.data() + static_cast<size_t>(i) * per, it.input_data(), per);
    const rt::TensorView y = it.output();
    for (int64_t k = 0; k < outs; ++k) {
      logits[static_cast<size_t>(i * outs + k)] = y.s32()[k];
      fl[static_cast<size_t>(k)] = y.fl[k / hw];
    }
  }
  OrtRunSpec spec;
  spec.node = a.node;
  spec.script = a.ort_run;
  spec.model = a.onnx;
  spec.dtype = m.input.dtype == rt::DType::kInt8 ? "int8" : "uint8";
  spec.shape = {n, in.c, in.h, in.w};
  spec.codes = &codes;
  nlohmann::json j = {{"onnx", a.onnx}, {"model", a.model}, {"images", n}, {"logits", n * outs}};
  bool all_exact = true;
  for (const char* opt : {"all", "disabled"}) {
    spec.opt = opt;
    const OrtRunResult r = run_ort(spec);
    if (static_cast<int64_t>(r.outputs.size()) != n * outs) {
      throw Error("verify: " + a.onnx + " gave " + std::to_string(r.outputs.size()) +
                  " outputs, expected " + std::to_string(n * outs));
    }
    int64_t images_exact = 0, logits_exact = 0, top1_agree = 0;
    for (int64_t i = 0; i < n; ++i) {
      int64_t same = 0, best_rt = 0, best_ort = 0;
      for (int64_t k = 0; k < outs; ++k) {
        const size_t at = static_cast<size_t>(i * outs + k);
        const double got =
            std::ldexp(static_cast<double>(r.outputs[at]), fl[static_cast<size_t>(k)]);
        same += got == static_cast<double>(logits[at]);
        const size_t b_rt = static_cast<size_t>(i * outs + best_rt);
        const size_t b_ort = static_cast<size_t>(i * outs + best_ort);
        if (std::ldexp(static_cast<double>(logits[at]), -fl[static_cast<size_t>(k)]) >
            std::ldexp(static_cast<double>(logits[b_rt]), -fl[static_cast<size_t>(best_rt)])) {
          best_rt = k;
        }
        if (r.outputs[at] > r.outputs[b_ort]) best_ort = k;
      }
      logits_exact += same;
      images_exact += same == outs;
      top1_agree += best_rt == best_ort;
    }
    const std::string key = std::string(opt) == "all" ? "ort_all" : "ort_disabled";
    std::cout << "verify " << a.onnx << " (ONNX Runtime, optimizations " << opt << ") against "
              << a.model << ": " << images_exact << "/" << n << " images bit-exact ("
              << logits_exact << "/" << n * outs << " logits), top-1 agrees on " << top1_agree
              << "\n";
    j[key] = {{"bit_exact", images_exact},
              {"logits_bit_exact", logits_exact},
              {"top1_agree", top1_agree},
              {"run", nlohmann::json::parse(r.summary, nullptr, false)}};
    all_exact = all_exact && images_exact == n;
  }
  j["bit_exact"] = all_exact;
  if (a.json) std::cout << j.dump() << std::endl;
  if (n == 0) throw Error("verify: no images were verified");
  if (!all_exact)
    throw Error("verify: ONNX Runtime does not reproduce " + a.model + " bit for bit");
}

}  // namespace f8net::cli
