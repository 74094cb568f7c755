// A small fixed pool for parallel_for: the caller runs chunk 0 and num_threads-1 workers run the
// others; each chunk is a fixed contiguous slice [n*k/T, n*(k+1)/T), so results never depend on
// scheduling. Threads start in the constructor; parallel_for itself never allocates. Workers and
// the caller spin briefly (~50 us) before sleeping, so back-to-back small ops (a fused model has
// ~100 per image) do not each pay a futex wake-up.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace f8net::rt {

class ThreadPool {
 public:
  using Task = void (*)(const void* ctx, int64_t begin, int64_t end);
  // The same with the chunk's thread index in [0, size()) (selects per-thread scratch).
  using IndexedTask = void (*)(const void* ctx, int64_t begin, int64_t end, int thread);

  explicit ThreadPool(int num_threads);  // >= 1
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return num_threads_; }
  // Runs task(ctx, begin, end) over [0, n) split into size() chunks; returns when all are done.
  void parallel_for(int64_t n, Task task, const void* ctx);
  void parallel_for(int64_t n, IndexedTask task, const void* ctx);

 private:
  void worker_loop(int index);

  const int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  std::atomic<uint64_t> generation_{0};  // written under mu_, read by spinning workers
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  IndexedTask indexed_task_ = nullptr;
  const void* ctx_ = nullptr;
  int64_t n_ = 0;
};

}  // namespace f8net::rt
