// epoch_order and the BatchLoader (batch-loader.h). Worker w makes batches w, w + W, w + 2W, ...
// into its own queue, at most per_queue ahead; next() takes them round-robin, so the batch order
// is fixed whatever the timing, and a sample's random transform draws only from an mt19937_64
// seeded by (seed, epoch, position in the epoch).
#include "f8net/data/batch-loader.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "f8net/data/error.h"
#include "random.h"

namespace f8net::data {

using detail::mix_seed;
using detail::uniform_int;

std::vector<int64_t> epoch_order(int64_t size, bool shuffle, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) order[i] = i;
  if (shuffle) {
    std::mt19937_64 rng(mix_seed(seed, epoch, -1));
    for (int64_t i = size - 1; i > 0; --i) std::swap(order[i], order[uniform_int(rng, 0, i)]);
  }
  return order;
}

struct BatchLoader::Impl {
  struct Queue {
    std::deque<Batch> items;
  };

  std::shared_ptr<const Dataset> dataset;
  TransformOptions transform;
  LoaderOptions options;
  std::vector<int64_t> order;
  int64_t num_batches = 0;
  int64_t first = 0;  // the first batch produced (start_batch)
  int64_t next = 0;
  size_t per_queue = 1;
  std::mutex mutex;
  std::condition_variable cv;
  bool stop = false;
  std::vector<Queue> queues;
  std::vector<std::thread> threads;

  void make_batch(int64_t index, Batch& out) const;
  void work(int64_t worker);
};

int64_t BatchLoader::count_batches(int64_t size, int64_t batch_size, bool drop_last) {
  return drop_last ? size / batch_size : (size + batch_size - 1) / batch_size;
}

BatchLoader::BatchLoader(std::shared_ptr<const Dataset> dataset, TransformOptions transform,
                         LoaderOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.dataset = std::move(dataset);
  s.transform = std::move(transform);
  s.options = options;
  s.order = epoch_order(s.dataset->size(), options.shuffle, options.seed, options.epoch);
  s.num_batches = count_batches(s.dataset->size(), options.batch_size, options.drop_last);
  s.first = s.next = std::min(options.start_batch, s.num_batches);
  const int64_t workers = std::max<int64_t>(1, options.workers);
  s.per_queue =
      static_cast<size_t>(std::max<int64_t>(1, (options.prefetch + workers - 1) / workers));
  s.queues.resize(static_cast<size_t>(workers));
  for (int64_t w = 0; w < workers; ++w) s.threads.emplace_back([&s, w] { s.work(w); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->threads) t.join();
}

int64_t BatchLoader::num_batches() const { return impl_->num_batches; }

void BatchLoader::Impl::make_batch(int64_t index, Batch& out) const {
  const int64_t begin = index * options.batch_size;
  const int64_t end = std::min<int64_t>(begin + options.batch_size, dataset->size());
  const int64_t s = transform.size;
  out.index = index;
  out.n = end - begin;
  out.c = transform.out_channels;
  out.h = out.w = s;
  out.images.resize(static_cast<size_t>(out.n * out.c * s * s));
  out.labels.resize(static_cast<size_t>(out.n));
  Image image;
  for (int64_t i = begin; i < end; ++i) {
    const int64_t sample = order[i];
    dataset->image(sample, image);
    if (image.channels != 1 && image.channels != 3) {
      throw DataError(dataset->description() + ": image " + std::to_string(sample) + " has " +
                      std::to_string(image.channels) + " channels");
    }
    std::mt19937_64 rng(mix_seed(options.seed, options.epoch, i));
    transform_image(image, transform, rng, out.images.data() + (i - begin) * out.c * s * s);
    out.labels[i - begin] = dataset->label(sample);
  }
}

void BatchLoader::Impl::work(int64_t worker) {
  const int64_t workers = static_cast<int64_t>(queues.size());
  Queue& queue = queues[static_cast<size_t>(worker)];
  for (int64_t b = first + worker; b < num_batches; b += workers) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, [&] { return stop || queue.items.size() < per_queue; });
      if (stop) return;
    }
    Batch batch;
    try {
      make_batch(b, batch);
    } catch (...) {
      batch.index = b;
      batch.error = std::current_exception();
    }
    const bool failed = batch.error != nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex);
      queue.items.push_back(std::move(batch));
    }
    cv.notify_all();
    if (failed) return;
  }
}

bool BatchLoader::next(Batch& out) {
  Impl& s = *impl_;
  if (s.next >= s.num_batches) return false;
  const int64_t workers = static_cast<int64_t>(s.queues.size());
  Impl::Queue& queue = s.queues[static_cast<size_t>((s.next - s.first) % workers)];
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.cv.wait(lock, [&] { return !queue.items.empty(); });
    out = std::move(queue.items.front());
    queue.items.pop_front();
  }
  s.cv.notify_all();
  ++s.next;
  if (out.error) std::rethrow_exception(out.error);
  return true;
}

}  // namespace f8net::data
