// ThreadPool: generation-counted start signal, pending counter for completion. Chunk k of n items
// over T threads is [n*k/T, n*(k+1)/T) (computed in int64 without overflow for n < 2^40).
#include "threads/thread-pool.h"

namespace f8net::rt {
namespace {
int64_t chunk_start(int64_t n, int k, int t) { return n / t * k + (n % t) * k / t; }

constexpr int kSpinRounds = 4000;  // x ~12 ns pause: ~50 us before a thread sleeps
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(num_threads < 1 ? 1 : num_threads) {
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

namespace {
struct Plain {
  ThreadPool::Task task;
  const void* ctx;
};
void call_plain(const void* p, int64_t begin, int64_t end, int /*thread*/) {
  const auto* plain = static_cast<const Plain*>(p);
  plain->task(plain->ctx, begin, end);
}
}  // namespace

void ThreadPool::parallel_for(int64_t n, Task task, const void* ctx) {
  const Plain plain{task, ctx};
  parallel_for(n, call_plain, &plain);
}

void ThreadPool::parallel_for(int64_t n, IndexedTask task, const void* ctx) {
  const int t = size();
  if (t == 1 || n <= 1) {
    task(ctx, 0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    indexed_task_ = task;
    ctx_ = ctx;
    n_ = n;
    pending_.store(t - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  const int64_t end0 = chunk_start(n, 1, t);
  if (end0 > 0) task(ctx, 0, end0, 0);
  for (int i = 0; i < kSpinRounds; ++i) {
    if (pending_.load(std::memory_order_acquire) == 0) return;
    cpu_relax();
  }
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    IndexedTask task;
    const void* ctx;
    int64_t n;
    for (int i = 0; i < kSpinRounds; ++i) {
      if (generation_.load(std::memory_order_acquire) != seen || stop_.load()) break;
      cpu_relax();
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
      if (stop_.load()) return;
      seen = generation_.load();
      task = indexed_task_;
      ctx = ctx_;
      n = n_;
    }
    const int t = size();
    const int64_t begin = chunk_start(n, index, t);
    const int64_t end = chunk_start(n, index + 1, t);
    if (end > begin) task(ctx, begin, end, index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace f8net::rt
