// DataOptions' normalization defaults (options.h): ImageNet's mean and std, the values
// torchvision's pretrained models expect.
#include "f8net/data/options.h"

namespace f8net::data {
namespace {

std::vector<double> per_channel(std::vector<double> v, std::vector<double> fallback,
                                int64_t channels) {
  if (v.empty()) v = std::move(fallback);
  if (v.size() == 1 || static_cast<int64_t>(v.size()) < channels) v.resize(channels, v[0]);
  v.resize(channels);
  return v;
}

}  // namespace

std::vector<double> DataOptions::mean_for(int64_t count) const {
  return per_channel(mean, {0.485, 0.456, 0.406}, count);
}

std::vector<double> DataOptions::std_for(int64_t count) const {
  return per_channel(std_dev, {0.229, 0.224, 0.225}, count);
}

}  // namespace f8net::data
