#include "ops/page-buffer.h"

#include <cstdlib>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace f8net::rt::ops {
namespace {

constexpr uint64_t kLine = 64;

uint64_t round_up(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

PageBuffer::PageBuffer(PageBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

PageBuffer& PageBuffer::operator=(PageBuffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

PageBuffer::~PageBuffer() { release(); }

void PageBuffer::release() {
  std::free(data_);
  data_ = nullptr;
  size_ = 0;
}

bool PageBuffer::allocate(uint64_t bytes) {
  release();
  const bool huge = bytes >= kHugePage;
  const uint64_t align = huge ? kHugePage : kLine;
  const uint64_t rounded = round_up(bytes < 1 ? 1 : bytes, align);
  // aligned_alloc wants a size that is a multiple of the alignment (C11 / C++17).
  void* p = std::aligned_alloc(static_cast<size_t>(align), static_cast<size_t>(rounded));
  if (p == nullptr) return false;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Before the first touch, so the first fault in each 2 MiB page can take a huge page. Advice
  // only: a refusal (THP off, EINVAL on old kernels) leaves ordinary pages.
  if (huge) (void)madvise(p, static_cast<size_t>(rounded), MADV_HUGEPAGE);
#endif
  data_ = static_cast<uint8_t*>(p);
  size_ = bytes;
  return true;
}

}  // namespace f8net::rt::ops
