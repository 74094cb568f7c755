// Data-set readers (data.h): IDX (gzip via zlib), CIFAR-10 binary batches and ImageFolder trees
// (OpenCV decoding). Every size read from a file is checked before it is used; malformed files
// raise DataError naming the file and never read out of bounds.
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "f8net/data/image-file.h"
#include "f8net/qat/data.h"

namespace f8net::qat {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw DataError(path + ": " + message);
}

uint32_t read_be32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         uint32_t{b[at + 3]};
}

// Validates an IDX header with `ndims` dimensions and returns them; checks the exact file size.
std::vector<int64_t> idx_dims(const std::vector<uint8_t>& b, int ndims, const std::string& path) {
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  if (b.size() < 4) fail(path, "truncated IDX header (" + std::to_string(b.size()) + " bytes)");
  if (b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != ndims) {
    char magic[16];
    std::snprintf(magic, sizeof(magic), "0x%08x", read_be32(b, 0));
    fail(path, std::string("bad IDX magic ") + magic + " (expected unsigned-byte data with " +
                   std::to_string(ndims) + " dimension" + (ndims > 1 ? "s)" : ")"));
  }
  if (b.size() < header) {
    fail(path, "truncated IDX header (" + std::to_string(b.size()) + " bytes)");
  }
  std::vector<int64_t> dims;
  uint64_t total = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint32_t d = read_be32(b, 4 + 4 * static_cast<size_t>(i));
    if (d == 0) fail(path, "IDX dimension " + std::to_string(i) + " is 0");
    if (i > 0 && d > 4096) fail(path, "IDX image dimension " + std::to_string(d) + " too large");
    total *= d;
    if (total > (uint64_t{1} << 34)) fail(path, "IDX data too large");
    dims.push_back(d);
  }
  const uint64_t expected = header + total;
  if (b.size() < expected) {
    fail(path, "truncated: expected " + std::to_string(expected) + " bytes, got " +
                   std::to_string(b.size()));
  }
  if (b.size() > expected) {
    fail(path, std::to_string(b.size() - expected) + " unexpected trailing bytes");
  }
  return dims;
}

class ArrayDataset final : public Dataset {
 public:
  ArrayDataset(ImageArray a, int64_t classes, std::vector<std::string> names, std::string desc)
      : a_(std::move(a)), classes_(classes), names_(std::move(names)), desc_(std::move(desc)) {}
  int64_t size() const override { return a_.count; }
  int64_t num_classes() const override { return classes_; }
  int64_t channels() const override { return a_.channels; }
  int64_t native_size() const override { return a_.height == a_.width ? a_.height : 0; }
  int64_t label(int64_t i) const override { return a_.labels[i]; }
  void image(int64_t i, Image& out) const override {
    const int64_t hw = a_.height * a_.width;
    const uint8_t* src = a_.pixels.data() + i * a_.channels * hw;
    out.height = a_.height;
    out.width = a_.width;
    out.channels = a_.channels;
    out.hwc.resize(static_cast<size_t>(hw * a_.channels));
    for (int64_t p = 0; p < hw; ++p) {
      for (int64_t c = 0; c < a_.channels; ++c) out.hwc[p * a_.channels + c] = src[c * hw + p];
    }
  }
  std::vector<std::string> class_names() const override { return names_; }
  std::string description() const override { return desc_; }

 private:
  ImageArray a_;
  int64_t classes_;
  std::vector<std::string> names_;
  std::string desc_;
};

// Keeps an evenly strided subset of `limit` samples (every class of a sorted folder survives).
class SubsetDataset final : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<const Dataset> base, int64_t limit) : base_(std::move(base)) {
    const int64_t n = base_->size();
    for (int64_t i = 0; i < limit; ++i) index_.push_back(i * n / limit);
  }
  int64_t size() const override { return static_cast<int64_t>(index_.size()); }
  int64_t num_classes() const override { return base_->num_classes(); }
  int64_t channels() const override { return base_->channels(); }
  int64_t native_size() const override { return base_->native_size(); }
  int64_t label(int64_t i) const override { return base_->label(index_[i]); }
  void image(int64_t i, Image& out) const override { base_->image(index_[i], out); }
  std::vector<std::string> class_names() const override { return base_->class_names(); }
  std::string description() const override {
    return base_->description() + ", first-" + std::to_string(size()) + " strided subset";
  }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> index_;
};

class FolderDataset final : public Dataset {
 public:
  FolderDataset(std::vector<std::string> files, std::vector<int64_t> labels,
                std::vector<std::string> names, std::string desc)
      : files_(std::move(files)), labels_(std::move(labels)), names_(std::move(names)),
        desc_(std::move(desc)) {}
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  int64_t num_classes() const override { return static_cast<int64_t>(names_.size()); }
  int64_t channels() const override { return 3; }
  int64_t native_size() const override { return 0; }
  int64_t label(int64_t i) const override { return labels_[i]; }
  void image(int64_t i, Image& out) const override {
    // The header is checked first: a small file that declares a huge image is refused before
    // OpenCV allocates for it, and a truncated JPEG is an error, not a half-grey image.
    std::vector<uint8_t> bytes;
    const std::string why = data::read_checked_image_file(files_[i], false, &bytes);
    if (!why.empty()) throw DataError(why);
    cv::Mat bgr;
    try {
      bgr = cv::imdecode(bytes, cv::IMREAD_COLOR);
    } catch (const cv::Exception&) {
      bgr.release();
    }
    if (bgr.empty()) fail(files_[i], "cannot decode the image (missing, corrupt or not JPEG/PNG)");
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    out.height = rgb.rows;
    out.width = rgb.cols;
    out.channels = 3;
    out.hwc.resize(static_cast<size_t>(rgb.rows) * rgb.cols * 3);
    for (int r = 0; r < rgb.rows; ++r) {
      std::copy_n(rgb.ptr<uint8_t>(r), static_cast<size_t>(rgb.cols) * 3,
                  out.hwc.data() + static_cast<size_t>(r) * rgb.cols * 3);
    }
  }
  std::vector<std::string> class_names() const override { return names_; }
  std::string description() const override { return desc_; }

 private:
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  std::vector<std::string> names_;
  std::string desc_;
};

std::string find_file(const std::string& dir, const std::string& name) {
  for (const std::string& candidate : {dir + "/" + name + ".gz", dir + "/" + name}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  throw DataError(dir + ": missing " + name + ".gz (or " + name + ")");
}

std::vector<std::string> list_subdirs(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) names.push_back(it->path().filename().string());
  }
  if (ec) fail(dir, "cannot list the directory: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::shared_ptr<const Dataset> open_folder(const std::string& root, Split split) {
  const std::string train_dir = root + "/train";
  const std::string dir = root + (split == Split::kTrain ? "/train" : "/val");
  std::error_code ec;
  if (!fs::is_directory(train_dir, ec)) fail(root, "no train/ sub-directory (ImageFolder layout)");
  if (!fs::is_directory(dir, ec)) fail(root, "no " + fs::path(dir).filename().string() + "/ sub-directory");
  const std::vector<std::string> classes = list_subdirs(train_dir);
  if (classes.empty()) fail(train_dir, "no class sub-directories");
  std::vector<std::string> files;
  std::vector<int64_t> labels;
  for (const auto& name : list_subdirs(dir)) {
    const auto it = std::find(classes.begin(), classes.end(), name);
    if (it == classes.end()) fail(dir + "/" + name, "class is not in train/");
    std::vector<std::string> class_files;
    for (fs::directory_iterator f(dir + "/" + name, ec), end; !ec && f != end; f.increment(ec)) {
      if (f->is_regular_file(ec) && is_image_file(f->path())) class_files.push_back(f->path().string());
    }
    if (ec) fail(dir + "/" + name, "cannot list the directory: " + ec.message());
    std::sort(class_files.begin(), class_files.end());
    for (auto& f : class_files) {
      files.push_back(std::move(f));
      labels.push_back(it - classes.begin());
    }
  }
  if (files.empty()) fail(dir, "no .jpg/.jpeg/.png images in its class sub-directories");
  const std::string desc = "imagefolder " + dir + " (" + std::to_string(files.size()) +
                           " images, " + std::to_string(classes.size()) + " classes)";
  return std::make_shared<FolderDataset>(std::move(files), std::move(labels), classes, desc);
}

const std::vector<std::string> kFashionNames = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                "Bag",         "Ankle boot"};
const std::vector<std::string> kCifarNames = {"airplane", "automobile", "bird",  "cat",  "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};

}  // namespace

std::vector<uint8_t> read_maybe_gzip(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) fail(path, "no such file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) fail(path, "cannot open");
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  for (;;) {
    const int n = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int err = 0;
      const std::string msg = gzerror(f, &err);
      gzclose(f);
      fail(path, "corrupt gzip data (" + msg + ")");
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      gzclose(f);
      fail(path, "decompresses to more than " + std::to_string(max_bytes) +
                     " bytes (the limit for this file; docs/limits.md)");
    }
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  int err = 0;
  const std::string msg = gzerror(f, &err);
  gzclose(f);
  if (err != Z_OK) fail(path, "corrupt or truncated gzip data (" + msg + ")");
  return out;
}

namespace {

// An IDX file read no further than its header says (header + product of the dimensions, capped
// at kMaxDataFileBytes), so a file whose data outgrows its header stops at once.
std::vector<uint8_t> read_idx_file(const std::string& path, int ndims) {
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  std::vector<uint8_t> head;
  {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) fail(path, "no such file");
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) fail(path, "cannot open");
    head.resize(header);
    const int n = gzread(f, head.data(), static_cast<unsigned>(header));
    gzclose(f);
    head.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  uint64_t data = 0;  // the product of the dimensions (each factor < 2^32: no overflow)
  if (head.size() == header) {
    data = 1;
    for (int i = 0; i < ndims; ++i) {
      data *= read_be32(head, 4 + 4 * static_cast<size_t>(i));
      if (data > kMaxDataFileBytes) {
        fail(path, "its header declares more than " + std::to_string(kMaxDataFileBytes) +
                       " bytes of data (the limit; docs/limits.md)");
      }
    }
  }
  // One byte of slack so trailing data is still reported as such by idx_dims.
  return read_maybe_gzip(path, header + data + 1);
}

}  // namespace

ImageArray read_idx(const std::string& images_path, const std::string& labels_path,
                    int64_t num_classes) {
  const std::vector<uint8_t> images = read_idx_file(images_path, 3);
  const std::vector<int64_t> idims = idx_dims(images, 3, images_path);
  const std::vector<uint8_t> labels = read_idx_file(labels_path, 1);
  const std::vector<int64_t> ldims = idx_dims(labels, 1, labels_path);
  if (idims[0] != ldims[0]) {
    fail(labels_path, std::to_string(ldims[0]) + " labels for " + std::to_string(idims[0]) +
                          " images in " + images_path);
  }
  ImageArray a;
  a.count = idims[0];
  a.channels = 1;
  a.height = idims[1];
  a.width = idims[2];
  a.pixels.assign(images.begin() + 16, images.end());
  a.labels.reserve(static_cast<size_t>(a.count));
  for (int64_t i = 0; i < a.count; ++i) {
    const int64_t label = labels[8 + static_cast<size_t>(i)];
    if (label >= num_classes) {
      fail(labels_path, "label " + std::to_string(label) + " of item " + std::to_string(i) +
                            " is out of range [0, " + std::to_string(num_classes) + ")");
    }
    a.labels.push_back(label);
  }
  return a;
}

ImageArray read_cifar10(const std::vector<std::string>& paths) {
  constexpr int64_t kRecord = 1 + 3 * 32 * 32;
  ImageArray a;
  a.channels = 3;
  a.height = a.width = 32;
  for (const auto& path : paths) {
    const std::vector<uint8_t> b = read_maybe_gzip(path, uint64_t{1} << 28);
    if (b.empty() || b.size() % kRecord != 0) {
      fail(path, "size " + std::to_string(b.size()) + " is not a whole number of " +
                     std::to_string(kRecord) + "-byte CIFAR-10 records");
    }
    const int64_t n = static_cast<int64_t>(b.size()) / kRecord;
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* rec = b.data() + i * kRecord;
      if (rec[0] >= 10) {
        fail(path, "label " + std::to_string(rec[0]) + " of record " + std::to_string(i) +
                       " is out of range [0, 10)");
      }
      a.labels.push_back(rec[0]);
      a.pixels.insert(a.pixels.end(), rec + 1, rec + kRecord);
    }
    a.count += n;
  }
  return a;
}

std::shared_ptr<const Dataset> make_array_dataset(ImageArray array, int64_t num_classes,
                                                  std::vector<std::string> class_names,
                                                  std::string description) {
  if (static_cast<int64_t>(array.labels.size()) != array.count ||
      static_cast<int64_t>(array.pixels.size()) !=
          array.count * array.channels * array.height * array.width) {
    throw DataError(description + ": inconsistent image array");
  }
  return std::make_shared<ArrayDataset>(std::move(array), num_classes, std::move(class_names),
                                        std::move(description));
}

std::shared_ptr<const Dataset> open_dataset(const DataConfig& data, Split split) {
  const bool train = split == Split::kTrain;
  std::error_code ec;
  if (!fs::is_directory(data.dir, ec)) fail(data.dir, "data directory not found");
  std::shared_ptr<const Dataset> ds;
  if (data.dataset == "fashion-mnist" || data.dataset == "mnist") {
    const std::string prefix = train ? "train" : "t10k";
    const std::string images = find_file(data.dir, prefix + "-images-idx3-ubyte");
    const std::string labels = find_file(data.dir, prefix + "-labels-idx1-ubyte");
    ImageArray a = read_idx(images, labels, 10);
    std::vector<std::string> names = kFashionNames;
    if (data.dataset == "mnist") {
      names.clear();
      for (int i = 0; i < 10; ++i) names.push_back(std::to_string(i));
    }
    const std::string desc = data.dataset + (train ? " train" : " test") + " (" +
                             std::to_string(a.count) + " images)";
    ds = make_array_dataset(std::move(a), 10, names, desc);
  } else if (data.dataset == "cifar10") {
    std::string dir = data.dir;
    if (fs::is_directory(dir + "/cifar-10-batches-bin", ec)) dir += "/cifar-10-batches-bin";
    std::vector<std::string> files;
    if (train) {
      for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
    } else {
      files.push_back("test_batch.bin");
    }
    for (auto& f : files) {
      const std::string path = dir + "/" + f;
      if (!fs::is_regular_file(path, ec)) fail(dir, "missing " + f);
      f = path;
    }
    ImageArray a = read_cifar10(files);
    const std::string desc = std::string("cifar10") + (train ? " train" : " test") + " (" +
                             std::to_string(a.count) + " images)";
    ds = make_array_dataset(std::move(a), 10, kCifarNames, desc);
  } else if (data.dataset == "imagefolder") {
    ds = open_folder(data.dir, split);
  } else {
    throw DataError("unknown data set '" + data.dataset + "'");
  }
  const int64_t limit = train ? data.train_limit : data.val_limit;
  if (limit > 0 && limit < ds->size()) ds = std::make_shared<SubsetDataset>(ds, limit);
  return ds;
}

}  // namespace f8net::qat
