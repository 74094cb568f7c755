// Which data set to read and how to prepare it: the `data.*` keys of a training recipe
// (configs/README.md; qat::DataConfig is this struct) and what `f8net eval --model` takes on its
// command line. The defaults are the recipe defaults.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace f8net::data {

struct DataOptions {
  std::string dataset = "fashion-mnist";  // fashion-mnist | mnist | cifar10 | imagefolder
  std::string dir = "/usr/share/datasets/fashion-mnist";  // imagefolder: dir/train, dir/val
  int64_t input_size = 0;    // model input size; 0 = the data set's native size (IDX 28, CIFAR 32)
  int64_t channels = 0;      // 0 = native; 3 on 1-channel data replicates the channel
  bool normalize = false;    // (x - mean) / std, signed first-layer input (F8NET.md §14)
  std::vector<double> mean;  // per channel (or one value); empty = ImageNet's when normalizing
  std::vector<double> std_dev;
  // Training augmentation.
  int64_t random_crop_padding = 0;   // random crop of input_size after zero padding (0 = none)
  bool hflip = false;                // random horizontal flip
  bool random_resized_crop = false;  // RandomResizedCrop(input_size), scale [rrc_scale_min, 1]
  double rrc_scale_min = 0.08;
  // Evaluation (and non-RRC training) of variable-size images: shorter side resized to `resize`
  // (0 = input_size), then a center crop of input_size.
  int64_t resize = 0;
  int64_t train_limit = 0;  // use only N training images, evenly strided (0 = all)
  int64_t val_limit = 0;    // use only N validation images, evenly strided (0 = all)
  int64_t workers = 2;      // background threads producing batches
  int64_t prefetch = 4;     // batches produced ahead

  // The normalization mean/std for `count` channels: `mean`/`std_dev`, ImageNet's when empty,
  // one value repeated for every channel.
  std::vector<double> mean_for(int64_t count) const;
  std::vector<double> std_for(int64_t count) const;
};

}  // namespace f8net::data
