// run() must not allocate: this binary replaces the global operator new/delete with counting
// versions and checks the count does not move across set_input() + run() (single- and
// multi-threaded; prepare() may allocate as much as it likes).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "f8net/rt/interpreter.h"
#include "support/model-zoo.h"
#include "support/tiny-models.h"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace rt = f8net::rt;

TEST(NoAllocation, RunAllocatesNothing) {
  for (int threads : {1, 3}) {
    rt::Interpreter it;
    ASSERT_TRUE(it.load(f8net::testing::random_cnn(11, 3)).is_ok());
    ASSERT_TRUE(it.prepare({threads, false}).is_ok());
    std::vector<uint8_t> input(3 * 144, 77);
    ASSERT_TRUE(it.set_input(input.data(), input.size()).is_ok());
    ASSERT_TRUE(it.run().is_ok());  // warm-up
    const long before = g_allocations.load();
    for (int rep = 0; rep < 5; ++rep) {
      const rt::Status s1 = it.set_input(input.data(), input.size());
      const rt::Status s2 = it.run();
      ASSERT_TRUE(s1.is_ok() && s2.is_ok());
    }
    EXPECT_EQ(g_allocations.load(), before) << "threads=" << threads;
    // The counter works: an allocation outside run() is seen.
    std::vector<int>* probe = new std::vector<int>(3);
    EXPECT_GT(g_allocations.load(), before);
    delete probe;
  }
}

// The fused engine (the default ISA where the CPU has AVX512-VNNI) on zoo models, and batches.
TEST(NoAllocation, ZooModelsAndBatchesAllocateNothing) {
  for (const char* name : {"resnet18", "mobilenet-v2"}) {
    f8net::testing::ZooOptions o;
    o.size = 32;
    o.width = 0.25;
    o.classes = 10;
    rt::ModelDef m;
    ASSERT_TRUE(f8net::testing::zoo_model(name, o, &m));
    for (int threads : {1, 2}) {
      rt::Interpreter it;
      ASSERT_TRUE(it.load(m).is_ok());
      rt::InterpreterOptions opt;
      opt.num_threads = threads;
      ASSERT_TRUE(it.prepare(opt).is_ok());
      std::vector<uint8_t> inputs(3 * it.input().bytes(), 91);
      std::vector<int32_t> out(3 * 10);
      ASSERT_TRUE(it.run_batch(inputs.data(), 3, out.data()).is_ok());  // warm-up
      const long before = g_allocations.load();
      for (int rep = 0; rep < 3; ++rep) {
        const rt::Status s = it.run_batch(inputs.data(), 3, out.data());
        ASSERT_TRUE(s.is_ok());
      }
      EXPECT_EQ(g_allocations.load(), before)
          << name << " threads=" << threads << " isa " << it.isa();
    }
  }
}
