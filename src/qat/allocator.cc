#include "f8net/qat/allocator.h"

#include <cstdlib>  // defines __GLIBC__ on glibc systems (it is not predefined by the compiler)
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace f8net::qat {

bool keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  // Blocks up to 32 MiB (glibc's ceiling for this setting) come from the heap, not from mmap;
  // the heap is trimmed only past 1 GiB of free space at its top, and grows 64 MiB at a time.
  bool ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  ok = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 && ok;
  ok = mallopt(M_TOP_PAD, 64 << 20) == 1 && ok;
  return ok;
#else
  return false;
#endif
}

}  // namespace f8net::qat
