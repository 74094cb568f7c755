// The ONE list of kernels. Tests iterate it to check every kernel against its oracle, benchmarks
// iterate it to time them, and prepare() picks from it. Reference kernels (Isa::kReference) are
// the specification; any other kernel must equal the reference for the same op bit for bit.
// Adding an optimized kernel: put it in kernels/<isa>/ (compile that file alone with the ISA's
// flags, e.g. set_source_files_properties(... COMPILE_OPTIONS -mavx2;-mfma)), add one row to
// kTable with its Isa and a `supports` predicate; kernels-test and bench_rt then cover it.
#pragma once

#include <cstddef>

#include "f8net/rt/tensor.h"
#include "kernels/kernel-args.h"

namespace f8net::rt::kernels {

// kAvxVnni: AVX2 + AVX-VNNI (VEX vpdpbusd on ymm; Alder Lake-class cores without AVX-512).
enum class Isa : uint32_t { kReference, kAvx2, kAvx512, kAvx512Vnni, kAvxVnni };
const char* isa_name(Isa isa);               // "ref", "avx2", "avx512", "avx512vnni", "avxvnni"
bool parse_isa(const char* name, Isa* out);  // the inverse; false for unknown names

struct KernelEntry {
  const char* name;  // <dtype>_<op>_<tile>__<isa>
  OpType op;
  DType src_dtype;
  DType dst_dtype;
  Isa isa;
  KernelFn fn;
  bool (*supports)(const KernelArgs&);  // nullptr: every argument block its op allows
};

// All kernels, reference ones first.
const KernelEntry* kernel_table(size_t* count);

// True when F8NET_FORCE_REFERENCE=1 is set in the environment or the build forces it.
bool reference_forced_by_environment();
// Whether this CPU can run kernels of `isa` (and this build has them).
bool isa_available(Isa isa);
// The best ISA of this CPU and build.
Isa best_isa();

// The kernel for an op: the first non-reference kernel that is available and supports `a`
// unless `force_reference`, else the reference kernel. Null if no kernel matches (a bug).
const KernelEntry* select_kernel(OpType op, DType src, DType dst, const KernelArgs& a,
                                 bool force_reference);

}  // namespace f8net::rt::kernels
