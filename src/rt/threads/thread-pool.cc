// ThreadPool: a generation-counted start signal, per-thread slices claimed by fetch_add, and a
// count of finished items for completion. Slice k of n items over T threads is
// [n*k/T, n*(k+1)/T) (computed in int64 without overflow for n < 2^40).
//
// Why the caller waits for joined_ == 0 before it rewrites the slices: a worker that joined the
// previous call but has not yet seen its slices empty would otherwise claim the new call's items
// with the old call's task. Joining happens under mu_, so the check under mu_ cannot miss one.
// A worker that wakes after its call has finished joins it, finds every slice empty and leaves.
#include "threads/thread-pool.h"

#include <algorithm>
#include <chrono>

namespace f8net::rt {
namespace {
int64_t chunk_start(int64_t n, int k, int t) { return n / t * k + (n % t) * k / t; }

// How long a thread spins before it sleeps: wall time, not pause count (a pause took ~25 ns on
// Zen 4 and 13 ns on the Sapphire Rapids-class Xeon, where 4000 of them lasted 52 us). The window
// covers the gap between a caller's back-to-back requests (the peer benchmark's pipe round trip):
// when a worker had gone to sleep, the next run paid a futex wake-up of an idle vCPU and ran its
// first stages alone (ResNet-18, 2 threads, runs 2 ms apart: median 4.39 ms; back to back 3.65).
// ONNX Runtime's workers spin likewise.
constexpr auto kSpinWindow = std::chrono::microseconds(1000);
constexpr int64_t kGrainsPerSlice = 64;  // the smallest claim: 1/64 of a slice (or 1 item)
constexpr int64_t kGuidedDivisor = 8;
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until done() or kSpinWindow has passed; whether done() held. The clock is read once
// per 64 pauses (a vDSO call).
template <class Done>
bool spin_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinWindow;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

struct Plain {
  ThreadPool::Task task;
  const void* ctx;
};
void call_plain(const void* p, int64_t begin, int64_t end, int /*thread*/) {
  const auto* plain = static_cast<const Plain*>(p);
  plain->task(plain->ctx, begin, end);
}
}  // namespace

ThreadPool::ThreadPool(int num_threads)
    : num_threads_(num_threads < 1 ? 1 : num_threads), slices_(new Slice[num_threads_]) {
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

void ThreadPool::parallel_for(int64_t n, Task task, const void* ctx) {
  const Plain plain{task, ctx};
  parallel_for(n, call_plain, &plain);
}

int64_t ThreadPool::run_slices(int index, IndexedTask task, const void* ctx) {
  const int t = size();
  int64_t done = 0;
  for (int v = 0; v < t; ++v) {
    Slice& s = slices_[static_cast<size_t>((index + v) % t)];
    for (;;) {
      // Guided grains: an eighth of what is left (at least s.grain), so a slice's last claims
      // are single items and a thread that finishes early waits for at most one item.
      int64_t begin = s.next.load(std::memory_order_relaxed);
      int64_t take = 0;
      do {
        if (begin >= s.end) break;
        take = std::max(s.grain, (s.end - begin) / kGuidedDivisor);
      } while (!s.next.compare_exchange_weak(begin, begin + take, std::memory_order_relaxed));
      if (begin >= s.end) break;
      const int64_t end = std::min(begin + take, s.end);
      task(ctx, begin, end, index);
      done += end - begin;
    }
  }
  return done;
}

void ThreadPool::parallel_for(int64_t n, IndexedTask task, const void* ctx) {
  const int t = size();
  if (n <= 0) return;
  if (t == 1 || n == 1) {
    task(ctx, 0, n, 0);
    return;
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (joined_.load(std::memory_order_acquire) != 0) {  // rare: a worker still leaving
      lock.unlock();
      cpu_relax();
      lock.lock();
    }
    task_ = task;
    ctx_ = ctx;
    n_ = n;
    for (int k = 0; k < t; ++k) {
      Slice& s = slices_[static_cast<size_t>(k)];
      const int64_t begin = chunk_start(n, k, t);
      s.end = chunk_start(n, k + 1, t);
      s.grain = std::max<int64_t>(1, (s.end - begin + kGrainsPerSlice - 1) / kGrainsPerSlice);
      s.next.store(begin, std::memory_order_relaxed);
    }
    done_items_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  const int64_t mine = run_slices(0, task, ctx);
  if (done_items_.fetch_add(mine, std::memory_order_acq_rel) + mine == n) return;
  if (spin_until([&] { return done_items_.load(std::memory_order_acquire) == n; })) return;
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [this, n] { return done_items_.load(std::memory_order_acquire) == n; });
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    IndexedTask task;
    const void* ctx;
    int64_t n;
    spin_until([&] { return generation_.load(std::memory_order_acquire) != seen || stop_.load(); });
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
      if (stop_.load()) return;
      seen = generation_.load();
      task = task_;
      ctx = ctx_;
      n = n_;
      joined_.fetch_add(1, std::memory_order_relaxed);
    }
    const int64_t mine = run_slices(index, task, ctx);
    const bool last =
        mine > 0 && done_items_.fetch_add(mine, std::memory_order_acq_rel) + mine == n;
    joined_.fetch_sub(1, std::memory_order_release);
    if (last) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace f8net::rt
