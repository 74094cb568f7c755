// Every entry of the kernel table against an independent int64 oracle (tests/support/naive-ops.h)
// on random and edge inputs (0, 255, +-127, rounding ties, saturation), all conv geometries
// (kernel 1..7, stride, padding, dilation, depthwise), with guard bytes around every output and
// the work range split into uneven chunks. Seeds are printed on failure.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel-table.h"
#include "support/naive-ops.h"
#include "support/random.h"

namespace rt = f8net::rt;
namespace k = f8net::rt::kernels;
using f8net::testing::seed_note;
using f8net::testing::test_seed;

namespace {

constexpr size_t kGuard = 64;
constexpr uint8_t kGuardByte = 0xA5;

// An output buffer with guard bytes on both sides.
struct Guarded {
  std::vector<uint8_t> bytes;
  size_t size;
  explicit Guarded(size_t n) : bytes(n + 2 * kGuard, kGuardByte), size(n) {}
  void* data() { return bytes.data() + kGuard; }
  bool guards_intact() const {
    for (size_t i = 0; i < kGuard; ++i) {
      if (bytes[i] != kGuardByte || bytes[kGuard + size + i] != kGuardByte) return false;
    }
    return true;
  }
};

// Runs the kernel in three uneven chunks covering all work items.
void run_chunks(const k::KernelEntry& e, const k::KernelArgs& a) {
  const int64_t n = k::work_items(e.op, a);
  const int64_t m1 = n / 3, m2 = n - n / 5;
  e.fn(a, 0, m1);
  e.fn(a, m1, m2);
  e.fn(a, m2, n);
}

std::vector<const k::KernelEntry*> kernels_for(rt::OpType op) {
  size_t n = 0;
  const k::KernelEntry* t = k::kernel_table(&n);
  std::vector<const k::KernelEntry*> out;
  for (size_t i = 0; i < n; ++i)
    if (t[i].op == op) out.push_back(&t[i]);
  return out;
}

int64_t code_max(rt::DType d) { return d == rt::DType::kUint8 ? 255 : 127; }
int64_t code_min(rt::DType d) { return d == rt::DType::kUint8 ? 0 : -127; }

// Codes of dtype `d` in a byte buffer; mode 0 random, 1 all max, 2 all min, 3 zeros.
std::vector<uint8_t> make_codes(std::mt19937_64& rng, rt::DType d, size_t n, int mode,
                                std::vector<int64_t>* values) {
  std::uniform_int_distribution<int64_t> dist(code_min(d), code_max(d));
  std::vector<uint8_t> bytes(n);
  values->resize(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t v = mode == 0 ? dist(rng) : mode == 1 ? code_max(d) : mode == 2 ? code_min(d) : 0;
    (*values)[i] = v;
    bytes[i] = static_cast<uint8_t>(static_cast<int8_t>(v));
    if (d == rt::DType::kUint8) bytes[i] = static_cast<uint8_t>(v);
  }
  return bytes;
}

std::vector<int8_t> make_weights(std::mt19937_64& rng, size_t n, int mode,
                                 std::vector<int64_t>* values) {
  std::uniform_int_distribution<int> dist(-127, 127);
  std::vector<int8_t> w(n);
  values->resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int v = mode == 0 ? dist(rng) : mode == 1 ? 127 : -127;
    w[i] = static_cast<int8_t>(v);
    (*values)[i] = v;
  }
  return w;
}

// Biases as large as the overflow proof allows for each channel (sum|w| * xmax + |b| < 2^31).
std::vector<int32_t> make_bias(std::mt19937_64& rng, const std::vector<int64_t>& w, int oc,
                               int64_t xmax, std::vector<int64_t>* values) {
  const size_t per = w.size() / static_cast<size_t>(oc);
  std::vector<int32_t> b(static_cast<size_t>(oc));
  values->resize(b.size());
  for (int o = 0; o < oc; ++o) {
    int64_t s = 0;
    for (size_t i = 0; i < per; ++i) s += std::abs(w[o * per + i]);
    const int64_t room = (int64_t{1} << 31) - 1 - s * xmax;
    std::uniform_int_distribution<int64_t> dist(-room, room);
    int64_t v = dist(rng);
    if (o == 0) v = room;  // extremes
    if (o == 1) v = -room;
    b[static_cast<size_t>(o)] = static_cast<int32_t>(v);
    (*values)[static_cast<size_t>(o)] = v;
  }
  return b;
}

struct ConvCase {
  int c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw;
  bool depthwise;
};

std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> cases;
  for (int kk = 1; kk <= 7; ++kk) {
    cases.push_back({3, 9, 8, 4, kk, kk, 1, 1, kk / 2, kk / 2, 1, 1, false});
    cases.push_back({2, 10, 11, 3, kk, kk, 2, 2, kk / 2, 0, 1, 1, false});
    cases.push_back({4, 9, 9, 4, kk, kk, 1, 2, kk / 2, kk / 2, 1, 1, true});
  }
  cases.push_back({2, 12, 12, 2, 3, 3, 1, 1, 2, 2, 2, 2, false});  // dilation
  cases.push_back({3, 13, 7, 3, 3, 2, 3, 1, 1, 0, 2, 3, true});    // everything differs
  cases.push_back({1, 5, 5, 5, 5, 5, 1, 1, 4, 4, 1, 1, false});    // pad near kernel size
  cases.push_back({5, 1, 1, 7, 1, 1, 1, 1, 0, 0, 1, 1, false});    // one pixel
  cases.push_back({8, 6, 6, 8, 7, 1, 1, 1, 3, 0, 1, 1, true});     // 7x1 depthwise
  cases.push_back({16, 7, 7, 33, 3, 3, 2, 2, 1, 1, 1, 1, false});  // more channels
  cases.push_back({3, 5, 37, 4, 3, 3, 1, 1, 1, 1, 1, 1, false});   // wide rows, partial block
  cases.push_back({2, 6, 30, 3, 5, 5, 2, 1, 2, 4, 1, 2, false});   // wide, dilated, odd taps
  cases.push_back({5, 4, 64, 5, 3, 3, 1, 1, 1, 1, 1, 1, true});    // depthwise, whole blocks
  return cases;
}

}  // namespace

TEST(KernelTable, EveryOpHasAReferenceKernelAndNamesAreUnique) {
  size_t n = 0;
  const k::KernelEntry* t = k::kernel_table(&n);
  ASSERT_GT(n, 0u);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_NE(t[i].fn, nullptr) << t[i].name;
    for (size_t j = i + 1; j < n; ++j) EXPECT_STRNE(t[i].name, t[j].name);
  }
  for (rt::OpType op :
       {rt::OpType::kConv2d, rt::OpType::kFullyConnected, rt::OpType::kRequantize,
        rt::OpType::kRelu, rt::OpType::kMaxPool, rt::OpType::kAdd, rt::OpType::kGlobalSumPool}) {
    bool has_ref = false;
    for (const k::KernelEntry* e : kernels_for(op)) has_ref |= e->isa == k::Isa::kReference;
    EXPECT_TRUE(has_ref) << "op " << static_cast<int>(op);
  }
}

TEST(Kernels, Conv2dMatchesOracle) {
  const uint64_t seed = test_seed(1001);
  std::mt19937_64 rng(seed);
  for (const k::KernelEntry* e : kernels_for(rt::OpType::kConv2d)) {
    int cases_run = 0;
    for (const ConvCase& cc : conv_cases()) {
      for (int mode = 0; mode < 4; ++mode) {
        const int groups = cc.depthwise ? cc.c : 1;
        const int oc = cc.depthwise ? cc.c : cc.oc;
        std::vector<int64_t> xv, wv, bv;
        auto x = make_codes(rng, e->src_dtype, static_cast<size_t>(cc.c) * cc.h * cc.w, mode, &xv);
        auto w = make_weights(rng, static_cast<size_t>(oc) * (cc.c / groups) * cc.kh * cc.kw,
                              mode == 3 ? 0 : mode % 3, &wv);
        auto b = make_bias(rng, wv, oc, code_max(e->src_dtype), &bv);
        int oh = 0, ow = 0;
        const f8net::testing::NaiveConv p{cc.c,  cc.h,  cc.w,  oc,    cc.kh, cc.kw, cc.sh,
                                          cc.sw, cc.ph, cc.pw, cc.dh, cc.dw, groups};
        const auto expect = f8net::testing::naive_conv2d(xv, p, wv, bv, &oh, &ow);
        Guarded out(expect.size() * 4);
        k::KernelArgs a;
        a.src = x.data();
        a.dst = out.data();
        a.c = cc.c;
        a.h = cc.h;
        a.w = cc.w;
        a.oc = oc;
        a.oh = oh;
        a.ow = ow;
        a.kh = cc.kh;
        a.kw = cc.kw;
        a.sh = cc.sh;
        a.sw = cc.sw;
        a.ph = cc.ph;
        a.pw = cc.pw;
        a.dh = cc.dh;
        a.dw = cc.dw;
        a.groups = groups;
        a.weights = w.data();
        a.bias = b.data();
        if (!k::isa_available(e->isa) || (e->supports && !e->supports(a))) continue;
        ++cases_run;
        run_chunks(*e, a);
        ASSERT_TRUE(out.guards_intact()) << e->name << " " << seed_note(seed);
        std::vector<int32_t> got(expect.size());
        std::memcpy(got.data(), out.data(), expect.size() * 4);
        for (size_t i = 0; i < expect.size(); ++i) {
          ASSERT_EQ(got[i], expect[i])
              << e->name << " k=" << cc.kh << "x" << cc.kw << " s=" << cc.sh << " p=" << cc.ph
              << " d=" << cc.dh << " dw=" << cc.depthwise << " mode=" << mode << " i=" << i << " "
              << seed_note(seed);
        }
      }
    }
    // Every kernel, reference or optimized, must take all these (small) shapes.
    if (k::isa_available(e->isa)) {
      EXPECT_GE(cases_run, 120) << e->name;
    }
  }
}

TEST(Kernels, FullyConnectedMatchesOracle) {
  const uint64_t seed = test_seed(1002);
  std::mt19937_64 rng(seed);
  for (const k::KernelEntry* e : kernels_for(rt::OpType::kFullyConnected)) {
    for (const rt::Shape s :
         {rt::Shape{1, 1, 1}, rt::Shape{16, 1, 1}, rt::Shape{3, 5, 7}, rt::Shape{64, 2, 2}}) {
      for (int oc : {1, 2, 10, 37}) {
        for (int mode = 0; mode < 4; ++mode) {
          std::vector<int64_t> xv, wv, bv;
          auto x = make_codes(rng, e->src_dtype, static_cast<size_t>(s.elements()), mode, &xv);
          auto w = make_weights(rng, static_cast<size_t>(oc * s.elements()), mode % 3, &wv);
          auto b = make_bias(rng, wv, oc, code_max(e->src_dtype), &bv);
          const auto expect = f8net::testing::naive_fc(xv, oc, wv, bv);
          Guarded out(expect.size() * 4);
          k::KernelArgs a;
          a.src = x.data();
          a.dst = out.data();
          a.c = s.c;
          a.h = s.h;
          a.w = s.w;
          a.oc = oc;
          a.oh = 1;
          a.ow = 1;
          a.weights = w.data();
          a.bias = b.data();
          run_chunks(*e, a);
          ASSERT_TRUE(out.guards_intact()) << e->name;
          std::vector<int32_t> got(expect.size());
          std::memcpy(got.data(), out.data(), expect.size() * 4);
          for (size_t i = 0; i < expect.size(); ++i)
            ASSERT_EQ(got[i], expect[i]) << e->name << " oc=" << oc << " " << seed_note(seed);
        }
      }
    }
  }
}

namespace {
// int32 test values: random, rounding ties at every shift, and the extremes.
std::vector<int32_t> interesting_int32(std::mt19937_64& rng, size_t n) {
  std::vector<int32_t> v = {
      0,  1,   -1,    64,    -64,    192,     -192,     320,        -320,        63,
      65, -65, 16320, 16384, -16384, 1000000, -1000000, 2147483647, -2147483647, -2147483647 - 1};
  for (int d = 1; d < 31; ++d) {
    const int32_t half = static_cast<int32_t>(int64_t{1} << (d - 1));
    v.push_back(half);
    v.push_back(-half);
    v.push_back(3 * half);
    v.push_back(-3 * half);
  }
  std::uniform_int_distribution<int32_t> big(INT32_MIN, INT32_MAX);
  std::uniform_int_distribution<int32_t> small(-5000, 5000);
  while (v.size() < n) v.push_back(v.size() % 2 ? big(rng) : small(rng));
  v.resize(n);
  return v;
}
}  // namespace

TEST(Kernels, RequantizeMatchesOracle) {
  const uint64_t seed = test_seed(1003);
  std::mt19937_64 rng(seed);
  for (const k::KernelEntry* e : kernels_for(rt::OpType::kRequantize)) {
    const bool is_signed = e->dst_dtype == rt::DType::kInt8;
    const int c = 32, h = 3, w = 5;
    const auto x = interesting_int32(rng, static_cast<size_t>(c * h * w));
    for (int out_fl = 0; out_fl <= (is_signed ? 7 : 8); ++out_fl) {
      std::vector<int32_t> src_fl(static_cast<size_t>(c));
      for (int ch = 0; ch < c; ++ch) src_fl[static_cast<size_t>(ch)] = ch;  // shifts -8..31
      Guarded out(x.size());
      k::KernelArgs a;
      a.src = x.data();
      a.dst = out.data();
      a.c = c;
      a.h = h;
      a.w = w;
      a.oc = c;
      a.oh = h;
      a.ow = w;
      a.src_fl = src_fl.data();
      a.out_fl = out_fl;
      a.out_signed = is_signed;
      run_chunks(*e, a);
      ASSERT_TRUE(out.guards_intact()) << e->name;
      const uint8_t* got = static_cast<const uint8_t*>(out.data());
      for (size_t i = 0; i < x.size(); ++i) {
        const int ch = static_cast<int>(i / (h * w));
        const int64_t want = f8net::testing::naive_requantize(x[i], ch, out_fl, is_signed);
        const int64_t have = is_signed ? static_cast<int8_t>(got[i]) : got[i];
        ASSERT_EQ(have, want) << e->name << " x=" << x[i] << " fl " << ch << "->" << out_fl << " "
                              << seed_note(seed);
      }
    }
  }
}

TEST(Kernels, ReluMatchesOracle) {
  const uint64_t seed = test_seed(1004);
  std::mt19937_64 rng(seed);
  for (const k::KernelEntry* e : kernels_for(rt::OpType::kRelu)) {
    const auto x = interesting_int32(rng, 4 * 7 * 9);
    Guarded out(x.size() * 4);
    k::KernelArgs a;
    a.src = x.data();
    a.dst = out.data();
    a.c = a.oc = 4;
    a.h = a.oh = 7;
    a.w = a.ow = 9;
    run_chunks(*e, a);
    ASSERT_TRUE(out.guards_intact()) << e->name;
    std::vector<int32_t> got(x.size());
    std::memcpy(got.data(), out.data(), x.size() * 4);
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(got[i], std::max<int64_t>(x[i], 0)) << e->name << " " << seed_note(seed);
  }
}

TEST(Kernels, AddMatchesOracleWithSaturation) {
  const uint64_t seed = test_seed(1005);
  std::mt19937_64 rng(seed);
  for (const k::KernelEntry* e : kernels_for(rt::OpType::kAdd)) {
    const int c = 32, h = 2, w = 7;
    const auto x = interesting_int32(rng, static_cast<size_t>(c * h * w));
    auto x2 = interesting_int32(rng, x.size());
    std::shuffle(x2.begin(), x2.end(), rng);
    std::vector<int32_t> s1(static_cast<size_t>(c)), s2(static_cast<size_t>(c));
    for (int ch = 0; ch < c; ++ch) {  // one side is always 0 (aligned to the larger FL)
      s1[static_cast<size_t>(ch)] = ch % 2 ? ch : 0;
      s2[static_cast<size_t>(ch)] = ch % 2 ? 0 : 31 - ch;
    }
    Guarded out(x.size() * 4);
    k::KernelArgs a;
    a.src = x.data();
    a.src2 = x2.data();
    a.dst = out.data();
    a.c = a.oc = c;
    a.h = a.oh = h;
    a.w = a.ow = w;
    a.shift = s1.data();
    a.shift2 = s2.data();
    run_chunks(*e, a);
    ASSERT_TRUE(out.guards_intact()) << e->name;
    std::vector<int32_t> got(x.size());
    std::memcpy(got.data(), out.data(), x.size() * 4);
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t ch = i / static_cast<size_t>(h * w);
      // Multiplying by 2^s in int64 (s <= 31 keeps |x| * 2^s below 2^62).
      const int64_t want = f8net::testing::naive_sat32(int64_t{x[i]} * (int64_t{1} << s1[ch]) +
                                                       int64_t{x2[i]} * (int64_t{1} << s2[ch]));
      ASSERT_EQ(got[i], want) << e->name << " " << x[i] << "<<" << s1[ch] << " + " << x2[i] << "<<"
                              << s2[ch] << " " << seed_note(seed);
    }
  }
}

TEST(Kernels, Tv9ResidualAlignment) {
  // F8NET.md TV9: 5000 @ FL 11 + (-700) @ FL 9 -> 2200 @ FL 11.
  const int32_t x = 5000, x2 = -700, s1 = 0, s2 = 2;
  for (const k::KernelEntry* e : kernels_for(rt::OpType::kAdd)) {
    int32_t y = 0;
    k::KernelArgs a;
    a.src = &x;
    a.src2 = &x2;
    a.dst = &y;
    a.c = a.h = a.w = a.oc = a.oh = a.ow = 1;
    a.shift = &s1;
    a.shift2 = &s2;
    e->fn(a, 0, 1);
    EXPECT_EQ(y, 2200) << e->name;
  }
}

TEST(Kernels, MaxPoolMatchesOracle) {
  const uint64_t seed = test_seed(1006);
  std::mt19937_64 rng(seed);
  for (const k::KernelEntry* e : kernels_for(rt::OpType::kMaxPool)) {
    for (int kk = 1; kk <= 5; ++kk) {
      for (int s = 1; s <= 3; ++s) {
        for (int pad = 0; pad <= kk / 2; ++pad) {
          const int c = 3, h = 9, w = 8;
          auto x = interesting_int32(rng, static_cast<size_t>(c * h * w));
          std::shuffle(x.begin(), x.end(), rng);
          if (kk == 3) std::fill(x.begin(), x.end(), -7);  // all negative: padding must not win
          std::vector<int64_t> xv(x.begin(), x.end());
          int oh = 0, ow = 0;
          const auto expect = f8net::testing::naive_maxpool(xv, c, h, w, kk, s, pad, &oh, &ow);
          Guarded out(expect.size() * 4);
          k::KernelArgs a;
          a.src = x.data();
          a.dst = out.data();
          a.c = a.oc = c;
          a.h = h;
          a.w = w;
          a.oh = oh;
          a.ow = ow;
          a.kh = a.kw = kk;
          a.sh = a.sw = s;
          a.ph = a.pw = pad;
          run_chunks(*e, a);
          ASSERT_TRUE(out.guards_intact()) << e->name;
          std::vector<int32_t> got(expect.size());
          std::memcpy(got.data(), out.data(), expect.size() * 4);
          for (size_t i = 0; i < expect.size(); ++i)
            ASSERT_EQ(got[i], expect[i])
                << e->name << " k" << kk << " s" << s << " p" << pad << " " << seed_note(seed);
        }
      }
    }
  }
}

TEST(Kernels, GlobalSumPoolMatchesOracleWithSaturation) {
  const uint64_t seed = test_seed(1007);
  std::mt19937_64 rng(seed);
  for (const k::KernelEntry* e : kernels_for(rt::OpType::kGlobalSumPool)) {
    const int c = 6, h = 7, w = 7;
    std::vector<int32_t> x = interesting_int32(rng, static_cast<size_t>(c * h * w));
    std::shuffle(x.begin(), x.end(), rng);
    std::fill(x.begin(), x.begin() + h * w, 2147483647);               // saturates high
    std::fill(x.begin() + h * w, x.begin() + 2 * h * w, -2147483647);  // saturates low
    for (int i = 0; i < h * w; ++i) x[static_cast<size_t>(2 * h * w + i)] = i == 0 ? 149 : 100;
    Guarded out(static_cast<size_t>(c) * 4);
    k::KernelArgs a;
    a.src = x.data();
    a.dst = out.data();
    a.c = a.oc = c;
    a.h = h;
    a.w = w;
    a.oh = a.ow = 1;
    run_chunks(*e, a);
    ASSERT_TRUE(out.guards_intact()) << e->name;
    std::vector<int32_t> got(static_cast<size_t>(c));
    std::memcpy(got.data(), out.data(), got.size() * 4);
    for (int ch = 0; ch < c; ++ch) {
      int64_t s = 0;
      for (int i = 0; i < h * w; ++i) s += x[static_cast<size_t>(ch * h * w + i)];
      EXPECT_EQ(got[static_cast<size_t>(ch)], f8net::testing::naive_sat32(s)) << seed_note(seed);
    }
    EXPECT_EQ(got[0], 2147483647);
    EXPECT_EQ(got[1], -2147483647);
    EXPECT_EQ(got[2], 4949);  // F8NET.md TV10
  }
}
