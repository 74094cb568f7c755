// Opening a data set by name from a directory (DataOptions::dataset, dir, train/val_limit).
#pragma once

#include <memory>

#include "f8net/data/dataset.h"
#include "f8net/data/options.h"

namespace f8net::data {

// Fashion-MNIST/MNIST: dir/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; CIFAR-10:
// dir[/cifar-10-batches-bin]/{data_batch_1..5,test_batch}.bin; ImageFolder:
// dir/{train,val}/<class>/*.{jpg,jpeg,png}. train_limit/val_limit keep an evenly strided
// subset. Throws DataError.
std::shared_ptr<const Dataset> open_dataset(const DataOptions& options, Split split);

}  // namespace f8net::data
