// eval_model_main(): reads t10k-images/labels from the data directory, checks them against the
// model (image size, label range), converts each image with the model's preprocessing, runs the
// interpreter on batches of 64 (Interpreter::run_batch) and counts top-1/top-5 hits.
// images_per_second covers preprocessing + run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <vector>

#include "cli-util.h"
#include "commands.h"
#include "eval-model.h"
#include "f8net/rt/preprocess.h"
#include "idx-data.h"

namespace f8net::cli {

int eval_model_main(const EvalModelArgs& args) {
  if (args.model.empty()) throw UsageError("eval: --model is empty");
  if (args.limit < 0) throw UsageError("eval: --limit must be >= 0");
  rt::Interpreter it;
  load_interpreter(args.model, args.threads, &it);
  const rt::ModelDef& m = it.model();
  const rt::Shape in = m.input.shape;
  const IdxDataset data = read_idx_pair(args.data_dir + "/t10k-images-idx3-ubyte.gz",
                                        args.data_dir + "/t10k-labels-idx1-ubyte.gz");
  if (data.rows != in.h || data.cols != in.w) {
    throw Error("eval: the data has " + std::to_string(data.cols) + "x" +
                std::to_string(data.rows) + " images but " + args.model + " takes " +
                std::to_string(in.w) + "x" + std::to_string(in.h));
  }
  if (in.c != 1 && !m.metadata.preprocessing.replicate_gray) {
    throw Error("eval: " + args.model + " takes " + std::to_string(in.c) +
                " channels and does not replicate gray images");
  }
  const int classes = it.output().shape.c;
  for (int64_t i = 0; i < data.count; ++i) {
    if (data.labels[static_cast<size_t>(i)] >= classes) {
      throw Error("eval: label " + std::to_string(data.labels[static_cast<size_t>(i)]) +
                  " of image " + std::to_string(i) + " is outside the model's " +
                  std::to_string(classes) + " classes");
    }
  }
  const int64_t n = args.limit > 0 && args.limit < data.count ? args.limit : data.count;
  // An accuracy over no image is not a result (it used to print 0 % with exit 0).
  if (n == 0) throw Error("eval: " + args.data_dir + ": the test set has no images");
  const size_t plane = static_cast<size_t>(data.rows) * data.cols;
  int64_t top1 = 0, top5 = 0;
  const auto start = std::chrono::steady_clock::now();
  constexpr int64_t kBatch = 64;
  const size_t in_bytes = it.input().bytes();
  const rt::TensorView out_view = it.output();
  const size_t out_count = static_cast<size_t>(out_view.shape.elements());
  std::vector<uint8_t> codes(in_bytes * kBatch);
  std::vector<int32_t> logits(out_count * kBatch);
  for (int64_t first = 0; first < n; first += kBatch) {
    const int64_t count = std::min<int64_t>(kBatch, n - first);
    for (int64_t b = 0; b < count; ++b) {
      const uint8_t* px = data.images.data() + static_cast<size_t>(first + b) * plane;
      const rt::Status s = rt::image_to_codes(px, 1, m.input, m.metadata.preprocessing,
                                              codes.data() + static_cast<size_t>(b) * in_bytes);
      if (!s.is_ok()) throw Error("eval: image " + std::to_string(first + b) + ": " + s.message());
    }
    const rt::Status s = it.run_batch(codes.data(), static_cast<size_t>(count), logits.data());
    if (!s.is_ok()) throw Error("eval: images from " + std::to_string(first) + ": " + s.message());
    for (int64_t b = 0; b < count; ++b) {
      rt::TensorView one = out_view;
      one.data = logits.data() + static_cast<size_t>(b) * out_count;
      const std::vector<int> best = top_k(one, 5);
      const int label = data.labels[static_cast<size_t>(first + b)];
      if (best[0] == label) ++top1;
      for (int k : best) top5 += k == label ? 1 : 0;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double pct1 = n ? 100.0 * static_cast<double>(top1) / static_cast<double>(n) : 0.0;
  const double pct5 = n ? 100.0 * static_cast<double>(top5) / static_cast<double>(n) : 0.0;
  const double ips = seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
  char line[512];
  std::snprintf(line, sizeof(line),
                "%s: top-1 %.2f%%, top-5 %.2f%%, %lld images, %.1f images/s (%d threads)\n",
                args.model.c_str(), pct1, pct5, static_cast<long long>(n), ips, it.num_threads());
  std::cout << line;
  if (args.json) {
    std::snprintf(line, sizeof(line),
                  "{\"model\":%s,\"top1\":%.4f,\"top5\":%.4f,\"images\":%lld,"
                  "\"images_per_second\":%.2f,\"threads\":%d,\"runtime\":\"f8net_rt\"}\n",
                  json_string(args.model).c_str(), pct1, pct5, static_cast<long long>(n), ips,
                  it.num_threads());
    std::cout << line;
  }
  std::cout.flush();
  return 0;
}

}  // namespace f8net::cli
