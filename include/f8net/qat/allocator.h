// Process-wide allocator tuning for LibTorch training on CPU.
#pragma once

namespace f8net::qat {

// Makes glibc's malloc keep freed memory for reuse instead of handing every large tensor back
// to the kernel: each training step allocates and frees the same activation and gradient
// buffers (megabytes each), and by default every one of them comes from a fresh mmap whose pages
// fault in again. The measured effect on a resnet20 step is large and noisy (see
// bench/train-step-bench.cc). Only the process's own malloc settings change; results do not.
// Call once, early, from a program that trains or evaluates; returns false where it has no
// effect (another C library) or glibc refused a setting.
bool keep_freed_memory_for_reuse();

}  // namespace f8net::qat
