// Batches of one epoch produced on background threads: the sample order (a seeded permutation
// when shuffling), each sample's transform (transform.h) seeded by (seed, epoch, position), so
// batch b is the same for any worker count and timing, and a resumed epoch reproduces the batches
// it skipped past. The threads live in the implementation (src/data/batch-loader.cc).
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <vector>

#include "f8net/data/dataset.h"
#include "f8net/data/transform.h"

namespace f8net::data {

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
// `prefetch` ahead.
class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const Dataset> dataset, TransformOptions transform,
              LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Batches in the epoch (counting the ones skipped by start_batch).
  int64_t num_batches() const;
  static int64_t count_batches(int64_t size, int64_t batch_size, bool drop_last);

  // The next batch in order; false after the last one. Rethrows a worker's DataError.
  bool next(Batch& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace f8net::data
