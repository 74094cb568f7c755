// The allocator tuning must really reach glibc: its settings are applied only where the C library
// is glibc, and a missing feature macro once made it a silent no-op.
#include "f8net/qat/allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>

TEST(Allocator, GlibcTakesEverySetting) {
#if defined(__GLIBC__)
  EXPECT_TRUE(f8net::qat::keep_freed_memory_for_reuse());
#else
  EXPECT_FALSE(f8net::qat::keep_freed_memory_for_reuse());
#endif
}
