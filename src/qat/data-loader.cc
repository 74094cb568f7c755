// Sample transforms and the background BatchLoader (data.h). A sample's random transform draws
// only from an mt19937_64 seeded by (seed, epoch, position in the epoch), so batches are the
// same for any worker count, and a resumed epoch reproduces the batches it skipped past.
#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "f8net/data/resize.h"
#include "f8net/qat/data.h"
#include "f8net/rt/preprocess.h"

namespace f8net::qat {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t mix_seed(uint64_t seed, int64_t epoch, int64_t position) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^
                    static_cast<uint64_t>(position));
}

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Uniform integer in [lo, hi] (hi >= lo).
int64_t uniform_int(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

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

}  // namespace

int64_t model_channels(const DataConfig& data, const Dataset& dataset) {
  return data.channels == 0 ? dataset.channels() : data.channels;
}

int64_t model_input_size(const DataConfig& data, const Dataset& dataset) {
  return data.input_size == 0 ? dataset.native_size() : data.input_size;
}

TransformOptions make_transform(const DataConfig& data, const Dataset& dataset, bool train) {
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
    throw DataError("data.resize (" + std::to_string(o.resize) + ") is smaller than the input size (" +
                    std::to_string(o.size) + ")");
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
    o.mean = effective_mean(data, o.out_channels);
    o.std_dev = effective_std(data, o.out_channels);
  }
  return o;
}

void transform_image(const Image& in, const TransformOptions& o, std::mt19937_64& rng,
                     float* out) {
  const int size = static_cast<int>(o.size);
  const int type = in.channels == 1 ? CV_8UC1 : CV_8UC3;
  const cv::Mat src(static_cast<int>(in.height), static_cast<int>(in.width), type,
                    const_cast<uint8_t*>(in.hwc.data()));
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
    auto [rows, cols] = data::resize_shorter_side(src.rows, src.cols, target);
    rows = std::max(rows, size);
    cols = std::max(cols, size);
    cv::Mat resized = src;
    if (rows != src.rows || cols != src.cols) {
      resized = cv::Mat(rows, cols, type);
      data::resize_bilinear_pil(src.data, src.rows, src.cols, src.channels(), resized.data, rows,
                                cols);
    }
    int y = 0, x = 0;
    if (o.train) {
      y = static_cast<int>(uniform_int(rng, 0, resized.rows - size));
      x = static_cast<int>(uniform_int(rng, 0, resized.cols - size));
    } else {
      y = data::center_crop_offset(resized.rows, size);
      x = data::center_crop_offset(resized.cols, size);
    }
    img = resized(cv::Rect(x, y, size, size));
  }

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
      const uint8_t* row = (sy >= 0 && sy < size) ? img.ptr<uint8_t>(static_cast<int>(sy)) : nullptr;
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

std::vector<int64_t> epoch_order(int64_t size, bool shuffle, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) order[i] = i;
  if (shuffle) {
    std::mt19937_64 rng(mix_seed(seed, epoch, -1));
    for (int64_t i = size - 1; i > 0; --i) std::swap(order[i], order[uniform_int(rng, 0, i)]);
  }
  return order;
}

int64_t BatchLoader::count_batches(int64_t size, int64_t batch_size, bool drop_last) {
  return drop_last ? size / batch_size : (size + batch_size - 1) / batch_size;
}

BatchLoader::BatchLoader(std::shared_ptr<const Dataset> dataset, TransformOptions transform,
                         LoaderOptions options)
    : dataset_(std::move(dataset)), transform_(std::move(transform)), options_(options) {
  order_ = epoch_order(dataset_->size(), options_.shuffle, options_.seed, options_.epoch);
  num_batches_ = count_batches(dataset_->size(), options_.batch_size, options_.drop_last);
  first_ = next_ = std::min(options_.start_batch, num_batches_);
  const int64_t workers = std::max<int64_t>(1, options_.workers);
  per_queue_ = static_cast<size_t>(std::max<int64_t>(1, (options_.prefetch + workers - 1) / workers));
  queues_.resize(static_cast<size_t>(workers));
  for (int64_t w = 0; w < workers; ++w) threads_.emplace_back([this, w] { work(w); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void BatchLoader::make_batch(int64_t index, Batch& out) const {
  const int64_t begin = index * options_.batch_size;
  const int64_t end = std::min<int64_t>(begin + options_.batch_size, dataset_->size());
  const int64_t s = transform_.size;
  out.index = index;
  out.n = end - begin;
  out.c = transform_.out_channels;
  out.h = out.w = s;
  out.images.resize(static_cast<size_t>(out.n * out.c * s * s));
  out.labels.resize(static_cast<size_t>(out.n));
  Image image;
  for (int64_t i = begin; i < end; ++i) {
    const int64_t sample = order_[i];
    dataset_->image(sample, image);
    if (image.channels != 1 && image.channels != 3) {
      throw DataError(dataset_->description() + ": image " + std::to_string(sample) + " has " +
                      std::to_string(image.channels) + " channels");
    }
    std::mt19937_64 rng(mix_seed(options_.seed, options_.epoch, i));
    transform_image(image, transform_, rng, out.images.data() + (i - begin) * out.c * s * s);
    out.labels[i - begin] = dataset_->label(sample);
  }
}

void BatchLoader::work(int64_t worker) {
  const int64_t workers = static_cast<int64_t>(queues_.size());
  Queue& queue = queues_[static_cast<size_t>(worker)];
  for (int64_t b = first_ + worker; b < num_batches_; b += workers) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || queue.items.size() < per_queue_; });
      if (stop_) return;
    }
    Batch batch;
    try {
      make_batch(b, batch);
    } catch (...) {
      batch.index = b;
      batch.error = std::current_exception();
    }
    const bool failed = batch.error != nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue.items.push_back(std::move(batch));
    }
    cv_.notify_all();
    if (failed) return;
  }
}

bool BatchLoader::next(Batch& out) {
  if (next_ >= num_batches_) return false;
  const int64_t workers = static_cast<int64_t>(queues_.size());
  Queue& queue = queues_[static_cast<size_t>((next_ - first_) % workers)];
  {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !queue.items.empty(); });
    out = std::move(queue.items.front());
    queue.items.pop_front();
  }
  cv_.notify_all();
  ++next_;
  if (out.error) std::rethrow_exception(out.error);
  return true;
}

}  // namespace f8net::qat
