// ThreadPool: every item of [0, n) runs exactly once for any n and thread count, ranges are
// disjoint and non-empty, the running thread's index is in range, back-to-back calls do not mix
// (each call's task sees only its own context), and a worker that stalls does not hold up the
// call: the others take its slice's remaining items.
#include "threads/thread-pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace f8net::rt {
namespace {

struct Count {
  std::vector<std::atomic<int>> hits;
  std::atomic<int> bad_thread{0};
  std::atomic<int> empty_ranges{0};
  int threads = 0;
  explicit Count(int64_t n, int t) : hits(static_cast<size_t>(n)), threads(t) {}
};

void count_items(const void* ctx, int64_t begin, int64_t end, int thread) {
  auto* c = static_cast<Count*>(const_cast<void*>(ctx));
  if (end <= begin) c->empty_ranges.fetch_add(1);
  if (thread < 0 || thread >= c->threads) c->bad_thread.fetch_add(1);
  for (int64_t i = begin; i < end; ++i) c->hits[static_cast<size_t>(i)].fetch_add(1);
}

TEST(ThreadPool, EveryItemRunsExactlyOnce) {
  for (int t : {1, 2, 3, 5}) {
    ThreadPool pool(t);
    for (int64_t n : {0, 1, 2, 3, 7, 8, 9, 64, 1000, 4099}) {
      for (int rep = 0; rep < 20; ++rep) {  // back-to-back calls, as a model's stages are
        Count c(n, t);
        pool.parallel_for(n, count_items, &c);
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(c.hits[static_cast<size_t>(i)].load(), 1)
              << "item " << i << " of " << n << ", " << t << " threads";
        }
        EXPECT_EQ(c.bad_thread.load(), 0);
        EXPECT_EQ(c.empty_ranges.load(), 0);
      }
    }
  }
}

void add_item_values(const void* ctx, int64_t begin, int64_t end) {
  auto* sum = static_cast<std::atomic<int64_t>*>(const_cast<void*>(ctx));
  for (int64_t i = begin; i < end; ++i) sum->fetch_add(i);
}

TEST(ThreadPool, PlainTaskSumsTheRange) {
  ThreadPool pool(3);
  for (int64_t n = 0; n < 300; ++n) {
    std::atomic<int64_t> sum{0};
    pool.parallel_for(n, add_item_values, &sum);
    ASSERT_EQ(sum.load(), n * (n - 1) / 2) << n;
  }
}

struct Stall {
  std::vector<std::atomic<int>> by_thread;
  std::atomic<bool> stalled{false};
  Stall() : by_thread(2) {}
};

// Thread 0 waits in its first range until thread 1 is inside one, where thread 1 then sleeps;
// thread 0 finishes its own slice and the rest of thread 1's, so it runs far more than half.
void stall_thread_one(const void* ctx, int64_t begin, int64_t end, int thread) {
  auto* s = static_cast<Stall*>(const_cast<void*>(ctx));
  if (thread == 0) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!s->stalled.load() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::yield();
    }
  } else if (!s->stalled.exchange(true)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  s->by_thread[static_cast<size_t>(thread)].fetch_add(static_cast<int>(end - begin));
}

TEST(ThreadPool, AStalledWorkerIsNotWaitedForItsWholeSlice) {
  ThreadPool pool(2);
  Stall s;
  constexpr int64_t kItems = 800;
  pool.parallel_for(kItems, stall_thread_one, &s);
  const int t0 = s.by_thread[0].load(), t1 = s.by_thread[1].load();
  EXPECT_EQ(t0 + t1, kItems);
  // Thread 1 owns 400 items in grains of 50; while it sleeps in one grain thread 0 takes the rest.
  EXPECT_GE(t0, 700) << "thread 0 ran " << t0 << ", thread 1 ran " << t1;
}

}  // namespace
}  // namespace f8net::rt
