// What one sample goes through on its way to a model (F8NET.md §20): RandomResizedCrop or a fit
// to the input size (fixed-size images are resized to it; variable ones have their shorter side
// resized to `resize` (0 = size) with torchvision's exact PIL resample and are cropped, randomly
// when training, centrally otherwise), random crop with zero padding, horizontal flip, then
// float CHW: raw [0, 1] pixels (x = u8 / 255; the model's weight-only first layer quantizes them
// as rne(255x)/256) or (x - mean) / std, with 1 -> 3 channel replication. Random choices come
// from the generator passed in only, so they are fixed by (seed, epoch, sample).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "f8net/data/dataset.h"
#include "f8net/data/image.h"
#include "f8net/data/options.h"

namespace f8net::data {

struct TransformOptions {
  bool train = false;
  int64_t size = 28;                 // output size x size
  int64_t out_channels = 1;          // 1, or 3 (1-channel images are replicated)
  int64_t padding = 0;               // train only
  bool hflip = false;                // train only
  bool random_resized_crop = false;  // train only
  double rrc_scale_min = 0.08;
  int64_t resize = 0;
  bool variable_size = false;  // the data set's images vary in size (ImageFolder)
  bool normalize = false;
  std::vector<double> mean, std_dev;  // out_channels values when normalizing
};

// The transform options `options` asks for, checked against the data set (channels, sizes);
// throws DataError when the data set cannot feed such a model (e.g. 3-channel images into a
// 1-channel model, mean/std of the wrong length).
TransformOptions make_transform(const DataOptions& options, const Dataset& dataset, bool train);

// The model input shape the options imply on a data set: channels and square size.
int64_t model_channels(const DataOptions& options, const Dataset& dataset);
int64_t model_input_size(const DataOptions& options, const Dataset& dataset);

// Transforms `in` into out[out_channels x size x size].
void transform_image(const Image& in, const TransformOptions& options, std::mt19937_64& rng,
                     float* out);

// The geometric part of transform_image alone (RandomResizedCrop, or the resize and crop to
// size x size), before padding, flip and the conversion to float: `out` is size x size with the
// input's channels. transform_image draws from `rng` exactly as this does, then more.
void fit_image(const Image& in, const TransformOptions& options, std::mt19937_64& rng, Image& out);

// The evaluation transform that brings `dataset`'s images to a model input of
// channels x height x width without changing their pixels' meaning (no float conversion: the
// model's own preprocessing does that), or a DataError saying in one line why the model cannot
// take them: 3-channel images into a 1-channel model, 1-channel images into a multi-channel
// model that does not replicate gray, fixed-size images of another size, or a non-square input
// for images whose sizes vary. `resize` is DataOptions::resize. out_channels is the data
// set's own channel count.
TransformOptions model_eval_transform(const Dataset& dataset, int64_t channels, int64_t height,
                                      int64_t width, bool replicate_gray, int64_t resize);

// Copies an HWC image into planar CHW (`chw` holds channels * height * width bytes).
void to_planar(const Image& image, uint8_t* chw);

}  // namespace f8net::data
