// Training reads its data through f8net_data (include/f8net/data/, no LibTorch): this header
// names those types and functions in f8net::qat so the trainer, verify and checkpoint code keep
// their spelling. qat::DataConfig is data::DataOptions (config.h). New code should include the
// f8net/data/ header it needs and write data:: instead.
#pragma once

#include "f8net/data/batch-loader.h"
#include "f8net/data/cifar10.h"
#include "f8net/data/dataset.h"
#include "f8net/data/error.h"
#include "f8net/data/gzip-file.h"
#include "f8net/data/idx.h"
#include "f8net/data/image.h"
#include "f8net/data/open-dataset.h"
#include "f8net/data/transform.h"
#include "f8net/qat/config.h"

namespace f8net::qat {

using data::Batch;
using data::BatchLoader;
using data::DataError;
using data::Dataset;
using data::epoch_order;
using data::Image;
using data::ImageArray;
using data::kMaxDataFileBytes;
using data::LoaderOptions;
using data::make_array_dataset;
using data::make_transform;
using data::model_channels;
using data::model_input_size;
using data::open_dataset;
using data::read_cifar10;
using data::read_idx;
using data::read_maybe_gzip;
using data::Split;
using data::transform_image;
using data::TransformOptions;

}  // namespace f8net::qat
