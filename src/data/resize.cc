// Pillow-exact bilinear resampling (resize.h). Follows the algorithm of Pillow's Resample.c
// (precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal/Vertical_8bpc, the row
// window of ImagingResampleInner) so its 8-bit results are identical; written from the algorithm,
// all arithmetic in the same types (double coefficients, int32 fixed point, 22 fraction bits).
#include "f8net/data/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace f8net::data {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;  // per output: first input index, count
  std::vector<int32_t> k;   // per output: ksize fixed-point weights
};

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

Coeffs coeffs(int in_size, int out_size) {
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<size_t>(out_size) * 2);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(static_cast<size_t>(c.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[static_cast<size_t>(x)] = triangle((x + xmin - center + 0.5) * ss);
      ww += w[static_cast<size_t>(x)];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[static_cast<size_t>(x)] / ww : w[static_cast<size_t>(x)];
      c.k[static_cast<size_t>(xx) * c.ksize + x] = static_cast<int32_t>(
          v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[static_cast<size_t>(xx) * 2] = xmin;
    c.bounds[static_cast<size_t>(xx) * 2 + 1] = xmax;
  }
  return c;
}

uint8_t clip8(int32_t v) {
  const int32_t s = v >> kPrecisionBits;
  return static_cast<uint8_t>(std::clamp(s, 0, 255));
}

}  // namespace

void resize_bilinear_pil(const uint8_t* src, int h, int w, int channels, uint8_t* dst, int out_h,
                         int out_w) {
  const Coeffs ch = coeffs(w, out_w), cv = coeffs(h, out_h);
  const bool horizontal = out_w != w, vertical = out_h != h;
  // The horizontal pass covers only the rows the vertical pass reads (Pillow's ybox).
  const int first = cv.bounds[0];
  const int last =
      cv.bounds[static_cast<size_t>(out_h) * 2 - 2] + cv.bounds[static_cast<size_t>(out_h) * 2 - 1];
  std::vector<uint8_t> tmp;
  const uint8_t* rows = src;  // the vertical pass's input, row 0 = source row `row0`
  int row0 = 0, width = w;
  if (horizontal) {
    const int n = vertical ? last - first : h;
    row0 = vertical ? first : 0;
    tmp.resize(static_cast<size_t>(n) * out_w * channels);
    for (int y = 0; y < n; ++y) {
      const uint8_t* in = src + static_cast<size_t>(y + row0) * w * channels;
      uint8_t* out = tmp.data() + static_cast<size_t>(y) * out_w * channels;
      for (int xx = 0; xx < out_w; ++xx) {
        const int xmin = ch.bounds[static_cast<size_t>(xx) * 2];
        const int xmax = ch.bounds[static_cast<size_t>(xx) * 2 + 1];
        const int32_t* k = ch.k.data() + static_cast<size_t>(xx) * ch.ksize;
        for (int c = 0; c < channels; ++c) {
          int32_t ss = 1 << (kPrecisionBits - 1);
          for (int x = 0; x < xmax; ++x) ss += in[(x + xmin) * channels + c] * k[x];
          out[xx * channels + c] = clip8(ss);
        }
      }
    }
    rows = tmp.data();
    width = out_w;
  }
  if (!vertical) {
    std::copy(rows, rows + static_cast<size_t>(out_h) * out_w * channels, dst);
    return;
  }
  for (int yy = 0; yy < out_h; ++yy) {
    const int ymin = cv.bounds[static_cast<size_t>(yy) * 2] - row0;
    const int ymax = cv.bounds[static_cast<size_t>(yy) * 2 + 1];
    const int32_t* k = cv.k.data() + static_cast<size_t>(yy) * cv.ksize;
    for (int xx = 0; xx < width; ++xx) {
      for (int c = 0; c < channels; ++c) {
        int32_t ss = 1 << (kPrecisionBits - 1);
        for (int y = 0; y < ymax; ++y) {
          ss += rows[(static_cast<size_t>(y + ymin) * width + xx) * channels + c] * k[y];
        }
        dst[(static_cast<size_t>(yy) * out_w + xx) * channels + c] = clip8(ss);
      }
    }
  }
}

std::pair<int, int> resize_shorter_side(int h, int w, int size) {
  const int shorter = std::min(h, w), longer = std::max(h, w);
  const int new_long = static_cast<int>(static_cast<int64_t>(size) * longer / shorter);
  return w <= h ? std::pair<int, int>{new_long, size} : std::pair<int, int>{size, new_long};
}

int center_crop_offset(int in, int out) {
  const int d = in - out;
  if (d % 2 == 0) return d / 2;
  const int k = (d - 1) / 2;  // d / 2 = k + 0.5: to the even neighbour
  return k % 2 == 0 ? k : k + 1;
}

}  // namespace f8net::data
