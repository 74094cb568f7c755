// `f8net run --model MODEL.f8 [--top K] [--threads N] [--resize] [--json] IMAGE...`: classifies
// images with the integer runtime and prints the top-K classes with their exact logit values
// (logit * 2^-FL; F8NET.md §11: only the ranking is meaningful, not a probability). A bad image
// is reported on stderr and the others are still classified; the exit code is 1 if any failed.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli-util.h"
#include "commands.h"
#include "f8net/rt/preprocess.h"
#include "image-input.h"

namespace f8net::cli {
namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;
  int top = 5;
  int threads = 0;
  bool resize = false, json = false, allow_truncated = false;
};

void run_run(const RunArgs& a) {
  if (a.top < 1) throw UsageError("run: --top must be >= 1");
  rt::Interpreter it;
  load_interpreter(a.model, a.threads, &it);
  const rt::ModelDef& m = it.model();
  if (m.metadata.preprocessing.mode == rt::Preprocess::kCodes) {
    throw Error("run: " + a.model + " takes input codes, not images");
  }
  const rt::Shape in = m.input.shape;
  nlohmann::json results = nlohmann::json::array();
  int failed = 0;
  for (const std::string& path : a.inputs) {
    // One bad image is reported on its own line and does not hide the results of the others.
    std::string error;
    try {
      const Image img =
          load_image(path, in.c == 3 ? 3 : 1, in.h, in.w, a.resize, a.allow_truncated);
      rt::Status s = rt::image_to_codes(img.pixels.data(), img.channels, m.input,
                                        m.metadata.preprocessing, it.input_data());
      if (s.is_ok()) s = it.run();
      if (!s.is_ok()) error = s.message();
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) {
      if (a.inputs.size() == 1) throw Error("run: " + path + ": " + error);
      ++failed;
      std::cerr << "f8net: error: run: " << printable(path) << ": " << printable(error) << "\n";
      results.push_back({{"input", path}, {"error", error}});
      continue;
    }
    const rt::TensorView out = it.output();
    std::cout << printable(path) << ":\n";
    nlohmann::json top = nlohmann::json::array();
    int rank = 0;
    for (int c : top_k(out, a.top)) {
      const std::string name = static_cast<size_t>(c) < m.metadata.class_names.size()
                                   ? m.metadata.class_names[static_cast<size_t>(c)]
                                   : "class " + std::to_string(c);
      char line[256];
      std::snprintf(line, sizeof(line), "  %d. %-20s %12.6f  (logit %d @ FL %d, class %d)\n",
                    ++rank, printable(name).c_str(), logit_value(out, c), out.s32()[c], out.fl[c],
                    c);
      std::cout << line;
      top.push_back({{"class", c}, {"logit", out.s32()[c]}, {"fl", out.fl[c]}, {"name", name}});
    }
    results.push_back({{"input", path}, {"top", top}});
  }
  if (a.json) std::cout << json_text({{"results", results}, {"failed", failed}}) << "\n";
  if (failed > 0) {
    throw Error("run: " + std::to_string(failed) + " of " + std::to_string(a.inputs.size()) +
                " images could not be classified");
  }
}

void add_run(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Classify images with an .f8 model (integer runtime)");
  cmd->add_option("--model", args->model, "Exported .f8 model")->required();
  cmd->add_option("--top", args->top, "Classes to print per image (default 5)");
  cmd->add_option("--threads", args->threads, "Threads (0 = all cores)")
      ->check(CLI::Range(0, kMaxThreads));
  cmd->add_flag("--resize", args->resize, "Resize images to the model's input size (bilinear)");
  cmd->add_flag("--allow-truncated", args->allow_truncated,
                "Decode truncated JPEG/PNG files instead of refusing them");
  cmd->add_flag("--json", args->json, "Also print the results as one JSON object (last line)");
  cmd->add_option("inputs", args->inputs, "Image files (PNG, JPEG, PGM, ...)")->required();
  cmd->callback([args] { run_run(*args); });
}

}  // namespace

F8NET_REGISTER_COMMAND(50, add_run);

}  // namespace f8net::cli
