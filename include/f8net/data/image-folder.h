// ImageFolder trees: root/{train,val}/<class>/*.{jpg,jpeg,png}, decoded with OpenCV after the
// header checks of image-file.h. Classes are the sorted sub-directories of train/.
#pragma once

#include <memory>
#include <string>

#include "f8net/data/dataset.h"

namespace f8net::data {

// Lists the split's files (sorted by class, then name); images are decoded on access (RGB,
// 3 channels, sizes vary). Throws DataError for a missing directory, a val/ class unknown to
// train/ or a split without images.
std::shared_ptr<const Dataset> open_image_folder(const std::string& root, Split split);

}  // namespace f8net::data
