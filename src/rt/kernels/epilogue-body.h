// The fused microkernels' epilogue, written once over an ISA's vector ops V (avx2/epilogue.h:
// 8 int32 lanes in a ymm; avx512/epilogue.h: 16 in a zmm): accumulators of one pixel -> optional
// Add (each side left-shifted to the common FL, saturated to +-(2^31-1)) -> optional ReLU ->
// int32 store and/or fixed::requantize (RNE right shift or saturating left shift, then clamp) ->
// code store. The per-channel tables are loaded once per channel block (EpilogueRegs) and the
// epilogue then runs per pixel on registers.
//
// V provides: Reg; Cmp (a lane predicate); Mask (the lanes in use); mask(lanes); zero(), set1(v);
// load(const int32_t*) (a whole vector; tables are padded), load_masked(p, k), store_masked(p,
// k, v); add, sub, and_, andnot(a, b) = ~a & b, or_, min, max, srav, sllv; gt(a, b) -> Cmp;
// select(cmp, if_true, if_false); add1_where(cmp, v) (v + 1 in the lanes of cmp); none(v) (no lane
// non-zero); add_aligned(a, b, s1, s2) = sat32((a << s1) + (b << s2)), add_plain(a, b) = sat32(a +
// b); store_codes(p, k, q, sgn) (the low byte of each code in [-127, 255]).
//
// Include only from files compiled with that ISA's flags, after V is defined in an unnamed
// namespace: everything here is a template in an unnamed namespace, so each file instantiates
// its own copy and no inline code is shared between files compiled with different flags.
#pragma once

#include <cstdint>

#include "kernels/fused-args.h"

namespace f8net::rt::kernels {
namespace {

// The per-channel vectors of the epilogue for channels [o, o + lanes).
template <class V>
struct EpilogueRegs {
  typename V::Mask k;
  bool plain_add;  // both Add shifts 0 in every lane (ResNet's blocks after the first stage)
  typename V::Reg s1, s2, rs, ls, mask, half_m1, lo, hi;  // half_m1: the RNE half, minus 1
};

// Tables hold at least o + V::kLanes entries.
template <class V>
inline EpilogueRegs<V> epilogue_regs(const Epilogue& ep, int32_t o, int32_t lanes) {
  EpilogueRegs<V> r;
  const typename V::Reg zero = V::zero();
  r.k = V::mask(lanes);
  r.s1 = ep.other != nullptr ? V::load(ep.add_self + o) : zero;
  r.s2 = ep.other != nullptr ? V::load(ep.add_other + o) : zero;
  r.plain_add = V::none(V::or_(r.s1, r.s2));
  r.rs = ep.requant ? V::load(ep.rshift + o) : zero;
  r.ls = ep.requant && ep.any_left ? V::load(ep.lshift + o) : zero;
  r.mask = ep.requant ? V::load(ep.rmask + o) : zero;
  r.half_m1 = ep.requant ? V::sub(V::load(ep.rhalf + o), V::set1(1)) : zero;
  const int32_t qmax = ep.out_signed ? (1 << (ep.out_bits - 1)) - 1 : (1 << ep.out_bits) - 1;
  r.lo = V::set1(ep.out_signed && !ep.relu ? -qmax : 0);
  r.hi = V::set1(qmax);
  return r;
}

// fixed::requantize of int32 x by per-lane right shift rs [0, 31] (RNE; mask = 2^rs - 1, half =
// (mask >> 1) + 1) / left shift ls [0, 8], then clamp to [lo, hi]. Left shifts first clamp |x|
// to 1024 (any such value saturates 8-bit codes). Rounding up happens when the remainder
// exceeds half, or equals it with q odd: when rem + (q & 1) > half, tested as
// rem - (~q & 1) > half - 1 because rem + 1 wraps for rem = 2^31 - 1 (rs 31, x = -1 must give 0).
// requantize_unclamped stops before the clamp (for callers that clamp the packed bytes).
template <class V, bool kAnyLeft>
inline typename V::Reg requantize_unclamped(typename V::Reg x, const EpilogueRegs<V>& r) {
  using Reg = typename V::Reg;
  const Reg one = V::set1(1);
  if (kAnyLeft) {
    const Reg c = V::min(V::max(x, V::set1(-1024)), V::set1(1024));
    x = V::sllv(V::select(V::gt(r.ls, V::zero()), c, x), r.ls);
  }
  const Reg q = V::srav(x, r.rs);
  const Reg t = V::sub(V::and_(x, r.mask), V::andnot(q, one));  // in [-1, 2^31 - 1]
  return V::add1_where(V::gt(t, r.half_m1), q);
}

template <class V, bool kAnyLeft>
inline typename V::Reg requantize(typename V::Reg x, const EpilogueRegs<V>& r) {
  return V::min(V::max(requantize_unclamped<V, kAnyLeft>(x, r), r.lo), r.hi);
}

// Applies `ep` to the channels of r (from o) of pixel m.
template <class V>
inline void apply_epilogue(const Epilogue& ep, const EpilogueRegs<V>& r, int64_t m, int32_t o,
                           typename V::Reg acc) {
  const int64_t at = m * ep.n + o;
  if (ep.other != nullptr) {
    const typename V::Reg b = V::load_masked(ep.other + at, r.k);
    acc = r.plain_add ? V::add_plain(acc, b) : V::add_aligned(acc, b, r.s1, r.s2);
  }
  if (ep.relu) acc = V::max(acc, V::zero());
  if (!ep.requant) {
    V::store_masked(static_cast<int32_t*>(ep.out) + at, r.k, acc);
    return;
  }
  if (ep.out32 != nullptr) V::store_masked(ep.out32 + at, r.k, acc);
  const typename V::Reg q =
      ep.any_left ? requantize<V, true>(acc, r) : requantize<V, false>(acc, r);
  V::store_codes(static_cast<uint8_t*>(ep.out) + at, r.k, q, ep.out_signed);
}

// The same for one pixel (tables loaded for it alone): standalone element-wise chains.
template <class V>
inline void apply_epilogue(const Epilogue& ep, int64_t m, int32_t o, typename V::Reg acc,
                           int32_t lanes) {
  apply_epilogue<V>(ep, epilogue_regs<V>(ep, o, lanes), m, o, acc);
}

}  // namespace
}  // namespace f8net::rt::kernels
