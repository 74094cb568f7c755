// Independent oracles for the runtime's ops, written differently from the reference kernels on
// purpose: int64 everywhere, convolution over an explicitly zero-padded copy, rounding by exact
// floor division and remainder comparison, saturation by std::min/max. Never calls f8net::fixed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace f8net::testing {

// floor(a / 2^d) with round-half-to-even on exact ties, d >= 0; a * 2^-d for d < 0.
inline int64_t naive_rne_shift(int64_t a, int d) {
  if (d <= 0) return a * (int64_t{1} << -d);
  const int64_t den = int64_t{1} << d;
  int64_t q = a / den;
  int64_t r = a % den;
  if (r < 0) {  // make it a floor division with a non-negative remainder
    q -= 1;
    r += den;
  }
  if (2 * r > den || (2 * r == den && (q % 2 != 0))) q += 1;
  return q;
}

inline int64_t naive_clamp(int64_t v, int64_t lo, int64_t hi) {
  return std::min(hi, std::max(lo, v));
}

struct NaiveConv {
  int c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw, groups;
};

// x: codes [c, h, w] as int64; weights [oc, c/groups, kh, kw]; returns int64 [oc, oh, ow].
inline std::vector<int64_t> naive_conv2d(const std::vector<int64_t>& x, const NaiveConv& p,
                                         const std::vector<int64_t>& wt,
                                         const std::vector<int64_t>& bias, int* oh_out,
                                         int* ow_out) {
  const int hp = p.h + 2 * p.ph, wp = p.w + 2 * p.pw;
  std::vector<int64_t> padded(static_cast<size_t>(p.c) * hp * wp, 0);
  for (int c = 0; c < p.c; ++c)
    for (int y = 0; y < p.h; ++y)
      for (int xx = 0; xx < p.w; ++xx)
        padded[(static_cast<size_t>(c) * hp + y + p.ph) * wp + xx + p.pw] =
            x[(static_cast<size_t>(c) * p.h + y) * p.w + xx];
  const int oh = (hp - (p.dh * (p.kh - 1) + 1)) / p.sh + 1;
  const int ow = (wp - (p.dw * (p.kw - 1) + 1)) / p.sw + 1;
  *oh_out = oh;
  *ow_out = ow;
  const int cpg = p.c / p.groups, opg = p.oc / p.groups;
  std::vector<int64_t> out(static_cast<size_t>(p.oc) * oh * ow);
  for (int o = 0; o < p.oc; ++o) {
    const int g = o / opg;
    for (int y = 0; y < oh; ++y) {
      for (int xx = 0; xx < ow; ++xx) {
        int64_t s = bias[o];
        for (int ci = 0; ci < cpg; ++ci)
          for (int ky = 0; ky < p.kh; ++ky)
            for (int kx = 0; kx < p.kw; ++kx) {
              const int64_t wv = wt[((static_cast<size_t>(o) * cpg + ci) * p.kh + ky) * p.kw + kx];
              const int64_t xv =
                  padded[(static_cast<size_t>(g * cpg + ci) * hp + y * p.sh + ky * p.dh) * wp +
                         xx * p.sw + kx * p.dw];
              s += wv * xv;
            }
        out[(static_cast<size_t>(o) * oh + y) * ow + xx] = s;
      }
    }
  }
  return out;
}

inline std::vector<int64_t> naive_fc(const std::vector<int64_t>& x, int oc,
                                     const std::vector<int64_t>& wt,
                                     const std::vector<int64_t>& bias) {
  const size_t k = x.size();
  std::vector<int64_t> out(static_cast<size_t>(oc));
  for (int o = 0; o < oc; ++o) {
    int64_t s = 0;
    for (size_t i = 0; i < k; ++i) s += wt[static_cast<size_t>(o) * k + i] * x[i];
    out[static_cast<size_t>(o)] = s + bias[static_cast<size_t>(o)];
  }
  return out;
}

// Requantize one value at FL `fl_in` to `bits`-wide codes (8 by default) at `fl_out`.
inline int64_t naive_requantize(int64_t v, int fl_in, int fl_out, bool is_signed, int bits = 8) {
  const int64_t r = naive_rne_shift(v, fl_in - fl_out);
  const int64_t hi = is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
  return naive_clamp(r, is_signed ? -hi : 0, hi);
}

inline int64_t naive_sat32(int64_t v) { return naive_clamp(v, -2147483647LL, 2147483647LL); }

// Max pool over [c, h, w] (window positions outside the input are ignored).
inline std::vector<int64_t> naive_maxpool(const std::vector<int64_t>& x, int c, int h, int w, int k,
                                          int s, int pad, int* oh_out, int* ow_out) {
  const int oh = (h + 2 * pad - k) / s + 1, ow = (w + 2 * pad - k) / s + 1;
  *oh_out = oh;
  *ow_out = ow;
  std::vector<int64_t> out;
  for (int ch = 0; ch < c; ++ch)
    for (int y = 0; y < oh; ++y)
      for (int xx = 0; xx < ow; ++xx) {
        bool any = false;
        int64_t m = 0;
        for (int ky = y * s - pad; ky < y * s - pad + k; ++ky)
          for (int kx = xx * s - pad; kx < xx * s - pad + k; ++kx) {
            if (ky < 0 || kx < 0 || ky >= h || kx >= w) continue;
            const int64_t v = x[(static_cast<size_t>(ch) * h + ky) * w + kx];
            if (!any || v > m) m = v;
            any = true;
          }
        out.push_back(m);
      }
  return out;
}

}  // namespace f8net::testing
