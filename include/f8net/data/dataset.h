// A labelled set of images, the one interface the transforms, the loader, training and
// `f8net eval --model` read data through; in-memory data sets (IDX, CIFAR-10) and an evenly
// strided subset of any data set.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "f8net/data/image.h"

namespace f8net::data {

// Indexed 0..size()-1. Thread-safe for concurrent image() calls.
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

// Training split, or the one evaluation is done on (IDX t10k, CIFAR test_batch, ImageFolder val/).
enum class Split { kTrain, kVal };

// In-memory data set over an ImageArray (what the IDX and CIFAR readers give), for tests too.
// Throws DataError when the array's sizes disagree.
std::shared_ptr<const Dataset> make_array_dataset(ImageArray array, int64_t num_classes,
                                                  std::vector<std::string> class_names,
                                                  std::string description);

// The `limit` samples i * size / limit of `base` (0 < limit < size): every class of a data set
// sorted by class survives.
std::shared_ptr<const Dataset> make_strided_subset(std::shared_ptr<const Dataset> base,
                                                   int64_t limit);

}  // namespace f8net::data
