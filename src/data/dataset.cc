// The in-memory data set and the strided subset (dataset.h).
#include "f8net/data/dataset.h"

#include <utility>

#include "f8net/data/error.h"

namespace f8net::data {
namespace {

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

}  // namespace

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

std::shared_ptr<const Dataset> make_strided_subset(std::shared_ptr<const Dataset> base,
                                                   int64_t limit) {
  return std::make_shared<SubsetDataset>(std::move(base), limit);
}

}  // namespace f8net::data
