// open_image_folder (image-folder.h): the directory walk (sorted, so the order and the labels
// are the same on every file system) and the per-image decode.
#include "f8net/data/image-folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "f8net/data/error.h"
#include "f8net/data/image-file.h"
#include "fail.h"

namespace f8net::data {
namespace {

namespace fs = std::filesystem;
using detail::fail;

class FolderDataset final : public Dataset {
 public:
  FolderDataset(std::vector<std::string> files, std::vector<int64_t> labels,
                std::vector<std::string> names, std::string desc)
      : files_(std::move(files)),
        labels_(std::move(labels)),
        names_(std::move(names)),
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
    const std::string why = read_checked_image_file(files_[i], false, &bytes);
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

}  // namespace

std::shared_ptr<const Dataset> open_image_folder(const std::string& root, Split split) {
  const std::string train_dir = root + "/train";
  const std::string dir = root + (split == Split::kTrain ? "/train" : "/val");
  std::error_code ec;
  if (!fs::is_directory(train_dir, ec)) fail(root, "no train/ sub-directory (ImageFolder layout)");
  if (!fs::is_directory(dir, ec)) {
    fail(root, "no " + fs::path(dir).filename().string() + "/ sub-directory");
  }
  const std::vector<std::string> classes = list_subdirs(train_dir);
  if (classes.empty()) fail(train_dir, "no class sub-directories");
  std::vector<std::string> files;
  std::vector<int64_t> labels;
  for (const auto& name : list_subdirs(dir)) {
    const auto it = std::find(classes.begin(), classes.end(), name);
    if (it == classes.end()) fail(dir + "/" + name, "class is not in train/");
    std::vector<std::string> class_files;
    for (fs::directory_iterator f(dir + "/" + name, ec), end; !ec && f != end; f.increment(ec)) {
      if (f->is_regular_file(ec) && is_image_file(f->path())) {
        class_files.push_back(f->path().string());
      }
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

}  // namespace f8net::data
