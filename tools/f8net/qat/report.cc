// Result tables and JSON (report.h).
#include "report.h"

#include <cstdio>
#include <string>

namespace f8net::cli {
namespace {

std::string weight_fl(const qat::LayerFormat& l) {
  if (l.weight_fl_min == l.weight_fl_max) return std::to_string(l.weight_fl_min);
  return std::to_string(l.weight_fl_min) + ".." + std::to_string(l.weight_fl_max);
}

std::string input_format(const qat::LayerFormat& l) {
  if (l.input_raw) return "u8 FL 8 (raw image)";
  return std::string(l.input_signed ? "s8" : "u8") + " FL " + std::to_string(l.input_fl);
}

}  // namespace

nlohmann::json layers_json(const std::vector<qat::LayerFormat>& layers) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : layers) {
    out.push_back({{"name", l.name},
                   {"kind", l.kind},
                   {"input_fl", l.input_fl},
                   {"input_signed", l.input_signed},
                   {"input_raw", l.input_raw},
                   {"weight_fl_min", l.weight_fl_min},
                   {"weight_fl_max", l.weight_fl_max}});
  }
  return out;
}

void print_layer_table(std::ostream& out, const std::vector<qat::LayerFormat>& layers) {
  size_t width = 5;
  for (const auto& l : layers) width = std::max(width, l.name.size());
  char line[400];
  std::snprintf(line, sizeof(line), "  %-*s  %-9s  %-19s  %s\n", static_cast<int>(width), "layer",
                "kind", "input (FL)", "weight FL");
  out << line;
  for (const auto& l : layers) {
    std::snprintf(line, sizeof(line), "  %-*s  %-9s  %-19s  %s\n", static_cast<int>(width),
                  l.name.c_str(), l.kind.c_str(), input_format(l).c_str(), weight_fl(l).c_str());
    out << line;
  }
}

void print_train_summary(std::ostream& out, const qat::TrainResult& result) {
  out << "\nSummary (validation top-1/top-5 in %; best = the kept checkpoint)\n";
  char line[400];
  std::snprintf(line, sizeof(line), "  %-9s %-8s %6s %11s %7s %12s  %s\n", "stage", "mode",
                "epochs", "best top-1", "top-5", "final top-1", "checkpoint");
  out << line;
  for (const auto& s : result.stages) {
    if (!s.ran) {
      std::snprintf(line, sizeof(line), "  %-9s %-8s %6s\n", s.name.c_str(), s.mode.c_str(), "off");
    } else {
      std::snprintf(line, sizeof(line), "  %-9s %-8s %6lld %11.2f %7.2f %12.2f  %s\n",
                    s.name.c_str(), s.mode.c_str(), static_cast<long long>(s.epochs), s.best_top1,
                    s.best_top5, s.final_top1, s.best_checkpoint.c_str());
    }
    out << line;
  }
  for (const auto& s : result.stages) {
    if (s.ran && s.resumed_iterations > 0) {
      out << "  (" << s.name << ": " << s.resumed_iterations << " of " << s.iterations
          << " iterations ran in an earlier process; their figures are from the checkpoint's "
             "record, not measured now)\n";
    }
  }
  if (!result.layers.empty()) {
    out << "\nPer-layer formats of the fixed-point model (FL = fractional length: value = code * "
           "2^-FL)\n";
    print_layer_table(out, result.layers);
  }
  std::snprintf(line, sizeof(line), "\nTraining wall time: %.1f s\n", result.seconds);
  out << line;
}

}  // namespace f8net::cli
