// The fused engine's kernel table: one row per ISA this build has fused kernels for, each naming
// its microkernel of every family. Compiled without ISA flags (it only takes addresses); a row is
// used only after isa_available() said the CPU runs its instructions.
#include "kernels/fused-table.h"

#ifdef F8NET_HAVE_FUSED_KERNELS
#include "kernels/avx2/avx2-kernels.h"
#include "kernels/avx512/avx512-kernels.h"
#include "kernels/avx512vnni/vnni-kernels.h"
#include "kernels/avxvnni/avxvnni-kernels.h"
#endif

namespace f8net::rt::kernels {
namespace {

#ifdef F8NET_HAVE_FUSED_KERNELS
const FusedKernels kRows[] = {
    {Isa::kAvx512Vnni, GemmPacking::kU8S8Quads, DepthwisePacking::kTapQuads, avx512vnni::kGemmMr,
     avx512vnni::kGemmNr, "6x64", "16c", avx512vnni::gemm_conv, avx512vnni::depthwise_conv,
     avx512::s32_pointwise, avx512::s32_maxpool, avx512::s32_global_sum_pool, u8_chw_to_hwc,
     s32_hwc_to_chw},
    {Isa::kAvx512, GemmPacking::kS16Pairs, DepthwisePacking::kTaps, avx512::kGemmMr,
     avx512::kGemmNr, "6x64", "16c", avx512::gemm_conv_s16, avx512::depthwise_conv,
     avx512::s32_pointwise, avx512::s32_maxpool, avx512::s32_global_sum_pool, u8_chw_to_hwc,
     s32_hwc_to_chw, avx512::gemm_conv_u8s8},
    // AVX-VNNI: the avx2 row with a vpdpbusd ymm GEMM for every conv and FC.
    {Isa::kAvxVnni, GemmPacking::kS16Pairs, DepthwisePacking::kTaps, avx2::kGemmMr, avx2::kGemmNr,
     "6x16", "8c", avx2::gemm_conv, avx2::depthwise_conv, avx2::s32_pointwise, avx2::s32_maxpool,
     avx2::s32_global_sum_pool, u8_chw_to_hwc, s32_hwc_to_chw, avxvnni::gemm_conv, true},
    {Isa::kAvx2, GemmPacking::kS16Pairs, DepthwisePacking::kTaps, avx2::kGemmMr, avx2::kGemmNr,
     "6x16", "8c", avx2::gemm_conv, avx2::depthwise_conv, avx2::s32_pointwise, avx2::s32_maxpool,
     avx2::s32_global_sum_pool, u8_chw_to_hwc, s32_hwc_to_chw, avx2::gemm_conv_u8s8},
};
#endif

}  // namespace

const FusedKernels* fused_kernel_table(int* count) {
#ifdef F8NET_HAVE_FUSED_KERNELS
  *count = static_cast<int>(sizeof(kRows) / sizeof(kRows[0]));
  return kRows;
#else
  *count = 0;
  return nullptr;
#endif
}

const FusedKernels* fused_kernels(Isa isa) {
  int n = 0;
  const FusedKernels* rows = fused_kernel_table(&n);
  for (int i = 0; i < n; ++i) {
    if (rows[i].isa == isa) return &rows[i];
  }
  return nullptr;
}

}  // namespace f8net::rt::kernels
