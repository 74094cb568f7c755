// The sample transforms (transform.h). The geometric fit (RandomResizedCrop, resize, crop) comes
// first and makes every draw it needs, then the padded crop and flip draw theirs: the order of
// draws is part of the recipe (a resumed run replays it), so it must not change.
#include "f8net/data/transform.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "f8net/data/error.h"
#include "f8net/data/resize.h"
#include "f8net/rt/preprocess.h"
#include "random.h"

namespace f8net::data {
namespace {

using detail::uniform01;
using detail::uniform_int;

// torchvision's RandomResizedCrop box (scale [scale_min, 1], ratio [3/4, 4/3], 10 tries, then a
// center crop with the ratio clamped).
cv::Rect rrc_box(int height, int width, double scale_min, std::mt19937_64& rng) {
  const double area = static_cast<double>(height) * width;
  const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (scale_min + (1.0 - scale_min) * uniform01(rng));
    const double ratio = std::exp(log_lo + (log_hi - log_lo) * uniform01(rng));
    const int w = static_cast<int>(std::nearbyint(std::sqrt(target * ratio)));
    const int h = static_cast<int>(std::nearbyint(std::sqrt(target / ratio)));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const int y = static_cast<int>(uniform_int(rng, 0, height - h));
      const int x = static_cast<int>(uniform_int(rng, 0, width - w));
      return {x, y, w, h};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < 3.0 / 4.0) {
    h = static_cast<int>(std::nearbyint(w / (3.0 / 4.0)));
  } else if (in_ratio > 4.0 / 3.0) {
    w = static_cast<int>(std::nearbyint(h * (4.0 / 3.0)));
  }
  h = std::min(h, height);
  w = std::min(w, width);
  return {(width - w) / 2, (height - h) / 2, w, h};
}

int cv_type(int64_t channels) { return channels == 1 ? CV_8UC1 : CV_8UC3; }

// The geometric fit of `src` to size x size (a view of `src` when no resize is needed).
cv::Mat fit(const cv::Mat& src, const TransformOptions& o, std::mt19937_64& rng) {
  const int size = static_cast<int>(o.size);
  cv::Mat img;
  if (o.train && o.random_resized_crop) {
    const cv::Rect box = rrc_box(src.rows, src.cols, o.rrc_scale_min, rng);
    cv::resize(src(box), img, cv::Size(size, size), 0, 0, cv::INTER_LINEAR);
  } else if (src.rows == size && src.cols == size) {
    img = src;
  } else if (!o.variable_size) {
    cv::resize(src, img, cv::Size(size, size), 0, 0, cv::INTER_LINEAR);
  } else {
    // torchvision's Resize(target) + CenterCrop(size) on a PIL image, bit for bit
    // (f8net/data/resize.h): the pixels a torchvision-trained model expects (docs/import.md).
    const int target = static_cast<int>(o.resize ? o.resize : o.size);
    auto [rows, cols] = resize_shorter_side(src.rows, src.cols, target);
    rows = std::max(rows, size);
    cols = std::max(cols, size);
    cv::Mat resized = src;
    if (rows != src.rows || cols != src.cols) {
      resized = cv::Mat(rows, cols, src.type());
      resize_bilinear_pil(src.data, src.rows, src.cols, src.channels(), resized.data, rows, cols);
    }
    int y = 0, x = 0;
    if (o.train) {
      y = static_cast<int>(uniform_int(rng, 0, resized.rows - size));
      x = static_cast<int>(uniform_int(rng, 0, resized.cols - size));
    } else {
      y = center_crop_offset(resized.rows, size);
      x = center_crop_offset(resized.cols, size);
    }
    img = resized(cv::Rect(x, y, size, size));
  }
  return img;
}

cv::Mat as_mat(const Image& in) {
  return cv::Mat(static_cast<int>(in.height), static_cast<int>(in.width), cv_type(in.channels),
                 const_cast<uint8_t*>(in.hwc.data()));
}

}  // namespace

int64_t model_channels(const DataOptions& options, const Dataset& dataset) {
  return options.channels == 0 ? dataset.channels() : options.channels;
}

int64_t model_input_size(const DataOptions& options, const Dataset& dataset) {
  return options.input_size == 0 ? dataset.native_size() : options.input_size;
}

TransformOptions make_transform(const DataOptions& data, const Dataset& dataset, bool train) {
  TransformOptions o;
  o.train = train;
  o.size = model_input_size(data, dataset);
  if (o.size <= 0) {
    throw DataError(dataset.description() + ": images vary in size: set data.input_size");
  }
  o.out_channels = model_channels(data, dataset);
  if (dataset.channels() == 3 && o.out_channels == 1) {
    throw DataError(dataset.description() +
                    ": has 3-channel images but the model takes 1 channel (data.channels)");
  }
  o.padding = data.random_crop_padding;
  o.hflip = data.hflip;
  o.random_resized_crop = data.random_resized_crop;
  o.rrc_scale_min = data.rrc_scale_min;
  o.resize = data.resize;
  o.variable_size = dataset.native_size() == 0;
  if (o.variable_size && o.resize != 0 && o.resize < o.size) {
    throw DataError("data.resize (" + std::to_string(o.resize) +
                    ") is smaller than the input size (" + std::to_string(o.size) + ")");
  }
  o.normalize = data.normalize;
  if (o.normalize) {
    for (const auto* list : {&data.mean, &data.std_dev}) {
      if (list->size() > 1 && static_cast<int64_t>(list->size()) != o.out_channels) {
        throw DataError(std::string(list == &data.mean ? "data.mean" : "data.std") + " has " +
                        std::to_string(list->size()) + " values for " +
                        std::to_string(o.out_channels) + " channels");
      }
    }
    o.mean = data.mean_for(o.out_channels);
    o.std_dev = data.std_for(o.out_channels);
  }
  return o;
}

void fit_image(const Image& in, const TransformOptions& o, std::mt19937_64& rng, Image& out) {
  const cv::Mat img = fit(as_mat(in), o, rng);
  out.height = out.width = o.size;
  out.channels = in.channels;
  const size_t row = static_cast<size_t>(o.size * in.channels);
  out.hwc.resize(row * static_cast<size_t>(o.size));
  for (int y = 0; y < img.rows; ++y) {
    std::copy_n(img.ptr<uint8_t>(y), row, out.hwc.data() + static_cast<size_t>(y) * row);
  }
}

void transform_image(const Image& in, const TransformOptions& o, std::mt19937_64& rng, float* out) {
  const int size = static_cast<int>(o.size);
  const cv::Mat img = fit(as_mat(in), o, rng);

  int64_t oy = 0, ox = 0;  // crop offset into the zero-padded image, minus the padding
  bool flip = false;
  if (o.train && o.padding > 0) {
    oy = uniform_int(rng, 0, 2 * o.padding) - o.padding;
    ox = uniform_int(rng, 0, 2 * o.padding) - o.padding;
  }
  if (o.train && o.hflip) flip = (rng() >> 63) != 0;

  const int64_t channels = in.channels;
  const int64_t plane = static_cast<int64_t>(size) * size;
  for (int64_t c = 0; c < o.out_channels; ++c) {
    const int64_t sc = channels == 1 ? 0 : c;
    const float mean = o.normalize ? static_cast<float>(o.mean[c]) : 0.0f;
    const float sd = o.normalize ? static_cast<float>(o.std_dev[c]) : 1.0f;
    float* dst = out + c * plane;
    for (int y = 0; y < size; ++y) {
      const int64_t sy = y + oy;
      const uint8_t* row =
          (sy >= 0 && sy < size) ? img.ptr<uint8_t>(static_cast<int>(sy)) : nullptr;
      for (int x = 0; x < size; ++x) {
        const int64_t xx = flip ? size - 1 - x : x;
        const int64_t sx = xx + ox;
        const uint8_t v = (row && sx >= 0 && sx < size) ? row[sx * channels + sc] : 0;
        // The runtime's own computation (rt/preprocess.h): identical z, hence identical codes.
        dst[y * size + x] =
            o.normalize ? rt::normalized_pixel(v, mean, sd) : static_cast<float>(v) / 255.0f;
      }
    }
  }
}

TransformOptions model_eval_transform(const Dataset& dataset, int64_t channels, int64_t height,
                                      int64_t width, bool replicate_gray, int64_t resize) {
  const std::string what = dataset.description();
  const int64_t have = dataset.channels();
  if (have == 3 && channels != 3) {
    throw DataError(what + ": has 3-channel images but the model takes " +
                    std::to_string(channels));
  }
  if (have == 1 && channels != 1 && !replicate_gray) {
    throw DataError(what + ": has 1-channel images but the model takes " +
                    std::to_string(channels) + " channels and does not replicate gray");
  }
  const int64_t native = dataset.native_size();
  if (native != 0 && (native != height || native != width)) {
    throw DataError(what + ": has " + std::to_string(native) + "x" + std::to_string(native) +
                    " images but the model takes " + std::to_string(width) + "x" +
                    std::to_string(height));
  }
  if (native == 0 && height != width) {
    throw DataError(what + ": its images vary in size and are cropped square, but the model " +
                    "takes " + std::to_string(width) + "x" + std::to_string(height));
  }
  if (native == 0 && resize != 0 && resize < height) {
    throw DataError("resize (" + std::to_string(resize) + ") is smaller than the model's " +
                    std::to_string(height) + "x" + std::to_string(height) + " input");
  }
  TransformOptions o;
  o.size = height;
  o.out_channels = have;
  o.resize = resize;
  o.variable_size = native == 0;
  return o;
}

void to_planar(const Image& image, uint8_t* chw) {
  const int64_t hw = image.height * image.width;
  for (int64_t p = 0; p < hw; ++p) {
    for (int64_t c = 0; c < image.channels; ++c)
      chw[c * hw + p] = image.hwc[p * image.channels + c];
  }
}

}  // namespace f8net::data
