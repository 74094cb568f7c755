// The kernel table and kernel selection. Adding an optimized kernel = one line here (plus its
// file under kernels/<isa>/); tests and benchmarks pick it up from the table automatically.
#include "kernels/kernel-table.h"

#include <cstdlib>
#include <cstring>
#include <initializer_list>
#if defined(F8NET_HAVE_FUSED_KERNELS) && defined(__GNUC__)
#include <cpuid.h>
#endif

#include "kernels/ref/ref-kernels.h"
#ifdef F8NET_HAVE_AVX2_KERNELS
#include "kernels/avx2/avx2-kernels.h"
#endif

namespace f8net::rt::kernels {
namespace {

constexpr DType kU8 = DType::kUint8;
constexpr DType kS8 = DType::kInt8;
constexpr DType kS32 = DType::kInt32;

const KernelEntry kTable[] = {
    {"u8_conv2d_generic__ref", OpType::kConv2d, kU8, kS32, Isa::kReference, ref::u8_conv2d,
     nullptr},
    {"s8_conv2d_generic__ref", OpType::kConv2d, kS8, kS32, Isa::kReference, ref::s8_conv2d,
     nullptr},
    {"u8_fc_generic__ref", OpType::kFullyConnected, kU8, kS32, Isa::kReference, ref::u8_fc,
     nullptr},
    {"s8_fc_generic__ref", OpType::kFullyConnected, kS8, kS32, Isa::kReference, ref::s8_fc,
     nullptr},
    {"s32u8_requantize_rne__ref", OpType::kRequantize, kS32, kU8, Isa::kReference,
     ref::s32u8_requantize, nullptr},
    {"s32s8_requantize_rne__ref", OpType::kRequantize, kS32, kS8, Isa::kReference,
     ref::s32s8_requantize, nullptr},
    {"s32_relu_generic__ref", OpType::kRelu, kS32, kS32, Isa::kReference, ref::s32_relu, nullptr},
    {"s32_maxpool_generic__ref", OpType::kMaxPool, kS32, kS32, Isa::kReference, ref::s32_maxpool,
     nullptr},
    {"s32_add_sat__ref", OpType::kAdd, kS32, kS32, Isa::kReference, ref::s32_add, nullptr},
    {"s32_globalsumpool_sat__ref", OpType::kGlobalSumPool, kS32, kS32, Isa::kReference,
     ref::s32_global_sum_pool, nullptr},
#ifdef F8NET_HAVE_AVX2_KERNELS
    {"u8_conv2d_rowx8__avx2", OpType::kConv2d, kU8, kS32, Isa::kAvx2, avx2::u8_conv2d_rows,
     avx2::conv2d_rows_supports},
    {"s8_conv2d_rowx8__avx2", OpType::kConv2d, kS8, kS32, Isa::kAvx2, avx2::s8_conv2d_rows,
     avx2::conv2d_rows_supports},
#endif
};

}  // namespace

int64_t work_items(OpType op, const KernelArgs& a) {
  switch (op) {
    case OpType::kConv2d:
    case OpType::kMaxPool:
      return int64_t{a.oc} * a.oh;
    case OpType::kFullyConnected:
    case OpType::kGlobalSumPool:
      return a.oc;
    case OpType::kRequantize:
    case OpType::kRelu:
    case OpType::kAdd:
      return int64_t{a.c} * a.h;
  }
  return 0;
}

const KernelEntry* kernel_table(size_t* count) {
  *count = sizeof(kTable) / sizeof(kTable[0]);
  return kTable;
}

bool reference_forced_by_environment() {
#ifdef F8NET_FORCE_REFERENCE_BUILD
  return true;
#else
  const char* v = std::getenv("F8NET_FORCE_REFERENCE");
  return v != nullptr && std::strcmp(v, "1") == 0;
#endif
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kReference:
      return "ref";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx512Vnni:
      return "avx512vnni";
    case Isa::kAvxVnni:
      return "avxvnni";
  }
  return "invalid";
}

bool parse_isa(const char* name, Isa* out) {
  for (Isa isa : {Isa::kReference, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni, Isa::kAvxVnni}) {
    if (name != nullptr && std::strcmp(name, isa_name(isa)) == 0) {
      *out = isa;
      return true;
    }
  }
  return false;
}

#if defined(F8NET_HAVE_FUSED_KERNELS) && defined(__GNUC__)
// AVX-VNNI: CPUID leaf 7 sub-leaf 1, EAX bit 4 (Clang 14's __builtin_cpu_supports does not know
// "avxvnni"). The OS's YMM state is what "avx2" already checked.
static bool cpu_has_avx_vnni() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d) == 0) return false;
  return ((a >> 4) & 1u) != 0;
}
#endif

bool isa_available(Isa isa) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512dq");
#else
  const bool avx2 = false, avx512 = false;
#endif
  switch (isa) {
    case Isa::kReference:
      return true;
    case Isa::kAvx2:
#ifdef F8NET_HAVE_AVX2_KERNELS
      return avx2;
#else
      return false;
#endif
    case Isa::kAvx512:  // F, BW, VL, DQ: the fused engine's s16 kernels
#ifdef F8NET_HAVE_FUSED_KERNELS
      return avx512;
#else
      return false;
#endif
    case Isa::kAvx512Vnni:
#if defined(F8NET_HAVE_FUSED_KERNELS) && defined(__GNUC__)
      return avx512 && __builtin_cpu_supports("avx512vnni");
#else
      return false;
#endif
    case Isa::kAvxVnni:
#if defined(F8NET_HAVE_FUSED_KERNELS) && defined(__GNUC__)
      return avx2 && cpu_has_avx_vnni();
#else
      return false;
#endif
  }
  return false;
}

Isa best_isa() {
  // avxvnni before avx512: one vpdpbusd ymm does 32 MACs, vpmaddubsw + vpmaddwd + vpaddd on zmm
  // 64 in three instructions (no CPU sold so far has AVX-VNNI and AVX-512 without VNNI).
  for (Isa isa : {Isa::kAvx512Vnni, Isa::kAvxVnni, Isa::kAvx512, Isa::kAvx2}) {
    if (isa_available(isa)) return isa;
  }
  return Isa::kReference;
}

const KernelEntry* select_kernel(OpType op, DType src, DType dst, const KernelArgs& a,
                                 bool force_reference) {
  size_t n = 0;
  const KernelEntry* table = kernel_table(&n);
  const KernelEntry* reference = nullptr;
  for (size_t i = 0; i < n; ++i) {
    const KernelEntry& k = table[i];
    if (k.op != op || k.src_dtype != src || k.dst_dtype != dst) continue;
    if (k.isa == Isa::kReference) {
      if (reference == nullptr) reference = &k;
      continue;
    }
    if (!force_reference && isa_available(k.isa) && (k.supports == nullptr || k.supports(a))) {
      return &k;
    }
  }
  return reference;
}

}  // namespace f8net::rt::kernels
