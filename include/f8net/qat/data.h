// Training and evaluation data without LibTorch: Fashion-MNIST/MNIST IDX (read from .gz with zlib),
// CIFAR-10 binary batches and ImageFolder trees (JPEG/PNG via OpenCV); the transforms of
// F8NET.md §14/§20; and a background BatchLoader. Batches are float NCHW: raw [0, 1] pixels
// (x = u8 / 255; the model's weight-only first layer quantizes them as rne(255x)/256) or
// (x - mean) / std when normalizing. Everything is deterministic for a given seed and epoch.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "f8net/qat/config.h"

namespace f8net::qat {

// Missing, unreadable or malformed data; the message names the file.
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One decoded image: height x width x channels uint8, channels interleaved (HWC), RGB order.
struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> hwc;
};

// Images held in memory: count x channels x height x width uint8 (NCHW) and their labels.
struct ImageArray {
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
};

// The most bytes a data file may decompress to (docs/limits.md): a small gzip "bomb" must not
// allocate gigabytes. IDX files are also held to the size their header declares.
constexpr uint64_t kMaxDataFileBytes = uint64_t{1} << 30;

// Reads a whole file, gunzipping it when it is gzip (zlib also reads plain files), reading at
// most `max_bytes` (more is a DataError naming the limit). Throws DataError on a missing file or
// corrupt/truncated gzip data.
std::vector<uint8_t> read_maybe_gzip(const std::string& path,
                                     uint64_t max_bytes = kMaxDataFileBytes);

// Reads an IDX image file (magic 0x00000803: count x rows x cols uint8) and label file (magic
// 0x00000801: count uint8), gzipped or not. Validates magic, dimensions, equal counts, label range
// [0, num_classes) and exact file sizes (truncated or trailing bytes are errors).
ImageArray read_idx(const std::string& images_path, const std::string& labels_path,
                    int64_t num_classes = 10);

// Reads CIFAR-10 binary batch files (records of 1 label byte + 3x32x32 uint8, CHW RGB). Validates
// that each file is a non-empty whole number of records and labels are < 10.
ImageArray read_cifar10(const std::vector<std::string>& paths);

// A labelled set of images, indexed 0..size()-1. Thread-safe for concurrent image() calls.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual int64_t num_classes() const = 0;
  virtual int64_t channels() const = 0;     // 1 or 3
  virtual int64_t native_size() const = 0;  // side of its square images; 0 = sizes vary
  virtual int64_t label(int64_t index) const = 0;
  // Decodes image `index`; throws DataError for an unreadable file.
  virtual void image(int64_t index, Image& out) const = 0;
  virtual std::vector<std::string> class_names() const = 0;
  virtual std::string description() const = 0;  // e.g. "fashion-mnist train (60000 images)"
};

enum class Split { kTrain, kVal };

// Opens the configured data set (data.dataset, data.dir; data.train_limit/val_limit keep an evenly
// strided subset). Fashion-MNIST/MNIST: dir/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz];
// CIFAR-10: dir[/cifar-10-batches-bin]/{data_batch_1..5,test_batch}.bin; ImageFolder:
// dir/{train,val}/<class>/*.{jpg,jpeg,png}. Throws DataError.
std::shared_ptr<const Dataset> open_dataset(const DataConfig& data, Split split);

// In-memory data set over an ImageArray (what the IDX and CIFAR readers give), for tests too.
std::shared_ptr<const Dataset> make_array_dataset(ImageArray array, int64_t num_classes,
                                                  std::vector<std::string> class_names,
                                                  std::string description);

// What one sample goes through (F8NET.md §20): RandomResizedCrop or a fit to the input size
// (fixed-size images are resized to it; variable ones have their shorter side resized to
// `resize` (0 = size) and are cropped, randomly when training, centrally otherwise), random crop
// with zero padding, horizontal flip, then float CHW [0, 1], 1 -> 3 channel replication and the
// optional normalization.
struct TransformOptions {
  bool train = false;
  int64_t size = 28;         // output size x size
  int64_t out_channels = 1;  // 1, or 3 (1-channel images are replicated)
  int64_t padding = 0;       // train only
  bool hflip = false;        // train only
  bool random_resized_crop = false;  // train only
  double rrc_scale_min = 0.08;
  int64_t resize = 0;
  bool variable_size = false;  // the data set's images vary in size (ImageFolder)
  bool normalize = false;
  std::vector<double> mean, std_dev;  // out_channels values when normalizing
};

// The transform options the config asks for, checked against the data set (channels, sizes);
// throws DataError when the data set cannot feed such a model (e.g. 3-channel images into a
// 1-channel model, mean/std of the wrong length).
TransformOptions make_transform(const DataConfig& data, const Dataset& dataset, bool train);

// The model input shape a config implies on a data set: channels and square size.
int64_t model_channels(const DataConfig& data, const Dataset& dataset);
int64_t model_input_size(const DataConfig& data, const Dataset& dataset);

// Transforms `in` into out[out_channels x size x size]. Random choices come from `rng` only.
void transform_image(const Image& in, const TransformOptions& options, std::mt19937_64& rng,
                     float* out);

// A batch: n x c x h x w float images (NCHW, contiguous) and n labels.
struct Batch {
  int64_t index = 0;  // batch index within the epoch
  int64_t n = 0, c = 0, h = 0, w = 0;
  std::vector<float> images;
  std::vector<int64_t> labels;
  std::exception_ptr error;  // set by a worker that failed
};

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = false;
  bool drop_last = false;
  uint64_t seed = 0;
  int64_t epoch = 0;        // with seed, fixes the order and every random transform
  int64_t start_batch = 0;  // resume: skip the batches before this one
  int64_t workers = 2;
  int64_t prefetch = 4;
};

// The sample order of an epoch: a permutation of 0..size-1 (Fisher-Yates on a seeded
// mt19937_64) when shuffling, else the identity.
std::vector<int64_t> epoch_order(int64_t size, bool shuffle, uint64_t seed, int64_t epoch);

// Produces the batches of one epoch in order on `workers` background threads, at most
// `prefetch` ahead. Batch b and its random transforms depend only on (seed, epoch, b), never on
// the thread count or timing.
class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const Dataset> dataset, TransformOptions transform,
              LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Batches in the epoch (counting the ones skipped by start_batch).
  int64_t num_batches() const { return num_batches_; }
  static int64_t count_batches(int64_t size, int64_t batch_size, bool drop_last);

  // The next batch in order; false after the last one. Rethrows a worker's DataError.
  bool next(Batch& out);

 private:
  struct Queue {
    std::deque<Batch> items;
  };
  void work(int64_t worker);
  void make_batch(int64_t index, Batch& out) const;

  std::shared_ptr<const Dataset> dataset_;
  TransformOptions transform_;
  LoaderOptions options_;
  std::vector<int64_t> order_;
  int64_t num_batches_ = 0;
  int64_t first_ = 0;  // the first batch produced (start_batch)
  int64_t next_ = 0;
  size_t per_queue_ = 1;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<Queue> queues_;
  std::vector<std::thread> threads_;
};

}  // namespace f8net::qat
