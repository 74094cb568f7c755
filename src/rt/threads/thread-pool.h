// A small fixed pool for parallel_for: the caller and num_threads-1 workers share [0, n). Thread k
// owns the contiguous slice [n*k/T, n*(k+1)/T) and claims it from the front in guided grains (an
// eighth of what is left, at least 1/64 of the slice: the last claims are single items); a thread
// whose slice is empty takes grains from the others' slices. So each thread
// keeps its own slice's locality when all run at the same speed, and a thread that starts late or
// runs slowly (a preempted vCPU, a sleeping worker) no longer holds up the op: the others finish
// its items. Which thread runs an item depends on timing; the bytes never do, because every item is
// computed on its own (per-thread scratch is selected by the running thread's index). Threads
// start in the constructor; parallel_for itself never allocates. Workers and the caller spin
// for up to 1 ms before sleeping, so back-to-back small ops (a fused model has ~40 per image) and
// back-to-back requests do not each pay a futex wake-up.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace f8net::rt {

class ThreadPool {
 public:
  using Task = void (*)(const void* ctx, int64_t begin, int64_t end);
  // The same with the running thread's index in [0, size()) (selects per-thread scratch).
  using IndexedTask = void (*)(const void* ctx, int64_t begin, int64_t end, int thread);

  explicit ThreadPool(int num_threads);  // >= 1
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return num_threads_; }
  // Runs task(ctx, begin, end, thread) over disjoint ranges covering [0, n) exactly once; returns
  // when all are done.
  void parallel_for(int64_t n, Task task, const void* ctx);
  void parallel_for(int64_t n, IndexedTask task, const void* ctx);

 private:
  // One thread's slice of the current call, on its own cache line: next is claimed by fetch_add.
  struct alignas(64) Slice {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
    int64_t grain = 1;
  };

  void worker_loop(int index);
  // Runs grains of slice `index`, then of the others, until every slice is empty.
  int64_t run_slices(int index, IndexedTask task, const void* ctx);  // returns items run

  const int num_threads_;
  std::unique_ptr<Slice[]> slices_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  std::atomic<uint64_t> generation_{0};  // written under mu_, read by spinning workers
  std::atomic<int64_t> done_items_{0};   // items finished in the current call
  std::atomic<int> joined_{0};           // workers inside the current call's run_slices
  std::atomic<bool> stop_{false};
  IndexedTask task_ = nullptr;
  const void* ctx_ = nullptr;
  int64_t n_ = 0;
};

}  // namespace f8net::rt
