// PageBuffer: owned bytes for the runtime's large, long-lived buffers (the packed weights of a
// fused program, its arena and scratch). Every buffer is 64-byte aligned; one of at least 2 MiB
// is aligned to 2 MiB, rounded up to whole 2 MiB pages and, on Linux, advised as transparent huge
// pages. Why: the microkernels load weights and store codes 64 bytes at a time, and glibc's
// blocks are 16-byte aligned (large ones 16 bytes past a page boundary), so each such access
// split two cache lines; and ResNet-18's 11.7 MB of packed weights stream through once per image
// in 2 860 4 KiB pages, more than the second-level TLB holds beside the arena (in a VM each miss
// is a two-level walk). On a 2-core Zen 4 VM this made ResNet-18 about 3 % faster at 1 and 2
// threads (same-run A/B). Where the kernel refuses or THP is off, the pages are simply 4 KiB.
#pragma once

#include <cstdint>

namespace f8net::rt::ops {

class PageBuffer {
 public:
  static constexpr uint64_t kHugePage = uint64_t{2} << 20;

  PageBuffer() = default;
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  PageBuffer(PageBuffer&& o) noexcept;
  PageBuffer& operator=(PageBuffer&& o) noexcept;
  ~PageBuffer();

  // Replaces the contents with `bytes` (>= 1) uninitialized bytes; false if allocation fails
  // (the buffer is then empty).
  bool allocate(uint64_t bytes);
  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  // Whether the buffer was advised as huge pages (2 MiB aligned and sized).
  bool huge() const { return size_ >= kHugePage; }

 private:
  void release();
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace f8net::rt::ops
