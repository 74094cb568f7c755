// open_dataset (open-dataset.h): the file layout of each named data set, its class names, and
// the strided limit.
#include "f8net/data/open-dataset.h"

#include <filesystem>

#include "f8net/data/cifar10.h"
#include "f8net/data/error.h"
#include "f8net/data/idx.h"
#include "f8net/data/image-folder.h"
#include "fail.h"

namespace f8net::data {
namespace {

namespace fs = std::filesystem;
using detail::fail;

const std::vector<std::string> kFashionNames = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                "Bag",         "Ankle boot"};
const std::vector<std::string> kCifarNames = {"airplane", "automobile", "bird",  "cat",  "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};

std::string find_file(const std::string& dir, const std::string& name) {
  for (const std::string& candidate : {dir + "/" + name + ".gz", dir + "/" + name}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  throw DataError(dir + ": missing " + name + ".gz (or " + name + ")");
}

std::shared_ptr<const Dataset> open_idx(const DataOptions& o, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  const std::string images = find_file(o.dir, prefix + "-images-idx3-ubyte");
  const std::string labels = find_file(o.dir, prefix + "-labels-idx1-ubyte");
  ImageArray a = read_idx(images, labels, 10);
  std::vector<std::string> names = kFashionNames;
  if (o.dataset == "mnist") {
    names.clear();
    for (int i = 0; i < 10; ++i) names.push_back(std::to_string(i));
  }
  const std::string desc =
      o.dataset + (train ? " train" : " test") + " (" + std::to_string(a.count) + " images)";
  return make_array_dataset(std::move(a), 10, names, desc);
}

std::shared_ptr<const Dataset> open_cifar10(const DataOptions& o, bool train) {
  std::error_code ec;
  std::string dir = o.dir;
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
  return make_array_dataset(std::move(a), 10, kCifarNames, desc);
}

}  // namespace

std::shared_ptr<const Dataset> open_dataset(const DataOptions& options, Split split) {
  const bool train = split == Split::kTrain;
  std::error_code ec;
  if (!fs::is_directory(options.dir, ec))
    fail(options.dir, "cannot open the data directory: not found");
  std::shared_ptr<const Dataset> ds;
  if (options.dataset == "fashion-mnist" || options.dataset == "mnist") {
    ds = open_idx(options, train);
  } else if (options.dataset == "cifar10") {
    ds = open_cifar10(options, train);
  } else if (options.dataset == "imagefolder") {
    ds = open_image_folder(options.dir, split);
  } else {
    throw DataError("unknown data set '" + options.dataset + "'");
  }
  const int64_t limit = train ? options.train_limit : options.val_limit;
  if (limit > 0 && limit < ds->size()) ds = make_strided_subset(ds, limit);
  return ds;
}

}  // namespace f8net::data
