// PageBuffer (ops/page-buffer.h): the alignment and size it promises, huge-page advice from 2 MiB
// up, moves, and a failed allocation that leaves an empty buffer instead of a crash.
#include "ops/page-buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <utility>

namespace ops = f8net::rt::ops;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

uintptr_t address(const ops::PageBuffer& b) { return reinterpret_cast<uintptr_t>(b.data()); }

}  // namespace

TEST(PageBuffer, SmallBuffersAreLineAlignedOrdinaryPages) {
  ops::PageBuffer b;
  EXPECT_EQ(b.data(), nullptr);
  ASSERT_TRUE(b.allocate(1000));
  EXPECT_EQ(b.size(), 1000u);
  EXPECT_EQ(address(b) % 64, 0u);
  EXPECT_FALSE(b.huge());
  std::memset(b.data(), 0x5a, 1000);  // every promised byte is writable (ASan checks the bounds)
  EXPECT_EQ(b.data()[999], 0x5a);
}

TEST(PageBuffer, LargeBuffersAreHugePageAlignedAndAdvised) {
  ops::PageBuffer b;
  ASSERT_TRUE(b.allocate(2 * kMiB + 1));
  EXPECT_EQ(b.size(), 2 * kMiB + 1);
  EXPECT_EQ(address(b) % (2 * kMiB), 0u);
  EXPECT_TRUE(b.huge());
  std::memset(b.data(), 1, 2 * kMiB + 1);
  // Re-allocating replaces the contents: a small buffer afterwards is an ordinary one.
  ASSERT_TRUE(b.allocate(64));
  EXPECT_FALSE(b.huge());
  EXPECT_EQ(b.size(), 64u);
}

TEST(PageBuffer, MovesTransferOwnership) {
  ops::PageBuffer a;
  ASSERT_TRUE(a.allocate(4 * kMiB));
  uint8_t* const p = a.data();
  ops::PageBuffer b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.size(), 4 * kMiB);
  EXPECT_TRUE(b.huge());
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(a.size(), 0u);
  ops::PageBuffer c;
  ASSERT_TRUE(c.allocate(10));
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(b.data(), nullptr);  // NOLINT(bugprone-use-after-move)
}

TEST(PageBuffer, AFailedAllocationLeavesAnEmptyBuffer) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer aborts on impossible sizes instead of returning null";
#else
  ops::PageBuffer b;
  ASSERT_TRUE(b.allocate(100));
  EXPECT_FALSE(b.allocate(uint64_t{1} << 62));
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(b.size(), 0u);
  EXPECT_FALSE(b.huge());
#endif
}
