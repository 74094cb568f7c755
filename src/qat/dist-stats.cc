// Global BN batch statistics and activation FLs (dist-stats.h). The single-process definitions
// they reproduce: batch_stats in modules.cc and activation_fl in quantize.cc.
#include "f8net/qat/dist-stats.h"

#include <ATen/Parallel.h>

#include <array>
#include <cmath>

#include "f8net/qat/quantize.h"

namespace f8net::qat {
namespace {

thread_local DistGroup* t_stats_group = nullptr;

// One all-reduce of a small double vector.
std::vector<double> reduce(DistGroup& group, const std::vector<double>& v,
                           const std::string& what) {
  std::vector<torch::Tensor> t{torch::tensor(v, torch::kDouble)};
  group.all_reduce_sum(t, what);
  const double* p = t[0].data_ptr<double>();
  return std::vector<double>(p, p + v.size());
}

class GlobalStatsFunction : public torch::autograd::Function<GlobalStatsFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::Tensor& y, DistGroup* group) {
    TORCH_CHECK(y.dim() == 4, "global_batch_stats: N x C x H x W input expected");
    const int64_t c = y.size(1);
    const torch::Tensor yd = y.detach().to(torch::kCPU, torch::kDouble);
    // [count, sum over channels, sum of squares over channels] in one message.
    std::vector<torch::Tensor> t{
        torch::cat({torch::full({1}, static_cast<double>(y.numel() / c), torch::kDouble),
                    yd.sum({0, 2, 3}), yd.square().sum({0, 2, 3})})};
    group->all_reduce_sum(t, "BN batch statistics");
    const double n = t[0][0].item<double>();
    const torch::Tensor mean = t[0].narrow(0, 1, c) / n;
    const torch::Tensor var = (t[0].narrow(0, 1 + c, c) / n - mean.square()).clamp_min(0.0);
    const torch::Tensor mean_out = mean.to(y.options());
    ctx->save_for_backward({y, mean_out});
    ctx->saved_data["n"] = n;
    ctx->saved_data["group"] = reinterpret_cast<int64_t>(group);
    return {mean_out, var.to(y.options()), t[0].narrow(0, 0, 1)};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    auto* group = reinterpret_cast<DistGroup*>(ctx->saved_data["group"].toInt());
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& y = saved[0];
    const torch::Tensor& mean = saved[1];
    const int64_t c = y.size(1);
    const double n = ctx->saved_data["n"].toDouble();
    const torch::Tensor g_mean = grad[0].defined() ? grad[0] : torch::zeros_like(mean);
    const torch::Tensor g_var = grad[1].defined() ? grad[1] : torch::zeros_like(mean);
    // Every rank's loss depends on the statistics: their gradients are summed over the ranks.
    std::vector<torch::Tensor> g{torch::cat({g_mean, g_var}).to(torch::kCPU).contiguous()};
    group->all_reduce_sum(g, "BN statistics gradients");
    const torch::Tensor gm = g[0].narrow(0, 0, c).to(y.device());
    const torch::Tensor gv = g[0].narrow(0, c, c).to(y.device());
    const torch::Tensor b = gv * (2.0 / n);
    const torch::Tensor a = gm / n - b * mean;
    return {torch::addcmul(a.view({1, c, 1, 1}), y, b.view({1, c, 1, 1})), torch::Tensor()};
  }
};

// The blocks of the core's blocked sums over LibTorch's intra-op threads (as quantize.cc).
struct AtenBlocks {
  template <typename Body>
  void operator()(size_t blocks, Body&& body) const {
    at::parallel_for(0, static_cast<int64_t>(blocks), 1, [&](int64_t b, int64_t e) {
      body(static_cast<size_t>(b), static_cast<size_t>(e));
    });
  }
};

// fixed::grid_search_errors without the final sqrt(sum / n): the raw per-FL squared-error sums.
int grid_error_sums(const float* x, size_t n, bool is_signed, int word_bits, double* sums) {
  const int max_fl = is_signed ? word_bits - 1 : word_bits;
  const int count = max_fl + 1;
  const double hi = static_cast<double>(fixed::Format{word_bits, 0, is_signed}.qmax());
  const double lo = is_signed ? -hi : 0.0;
  const size_t blocks = fixed::sum_blocks(n);
  std::vector<double> partial(blocks * fixed::kMaxGridCandidates);
  AtenBlocks{}(blocks, [&](size_t first, size_t end) {
    for (size_t b = first; b < end; ++b) {
      const size_t begin = b * fixed::kSumBlock;
      fixed::detail::grid_block_errors(x + begin, std::min(fixed::kSumBlock, n - begin), count, lo,
                                       hi, partial.data() + b * fixed::kMaxGridCandidates);
    }
  });
  for (int f = 0; f < count; ++f) {
    double sum = 0.0;
    for (size_t b = 0; b < blocks; ++b) sum += partial[b * fixed::kMaxGridCandidates + f];
    sums[f] = sum;
  }
  return count;
}

}  // namespace

StatsSyncScope::StatsSyncScope(DistGroup* group) : previous_(t_stats_group) {
  t_stats_group = group;
}
StatsSyncScope::~StatsSyncScope() { t_stats_group = previous_; }
DistGroup* stats_sync_group() { return t_stats_group; }

GlobalBatchStats global_batch_stats(DistGroup& group, const torch::Tensor& y) {
  const auto out = GlobalStatsFunction::apply(y, &group);
  return {out[0], out[1], static_cast<int64_t>(out[2].item<double>())};
}

int32_t global_activation_fl(DistGroup& group, const torch::Tensor& x, bool is_signed,
                             fixed::Metric metric, bool grid_search, int word_bits) {
  TORCH_CHECK(word_bits >= kMinWordBits && word_bits <= kMaxWordBits, "activation_fl: word length ",
              word_bits, " outside [", kMinWordBits, ", ", kMaxWordBits, "]");
  const torch::Tensor xc = x.detach().to(torch::kCPU, torch::kFloat).contiguous();
  const float* p = xc.data_ptr<float>();
  const size_t n = static_cast<size_t>(xc.numel());
  const std::string what = "activation FL statistics";
  if (uses_grid_search(grid_search, word_bits)) {
    std::array<double, fixed::kMaxGridCandidates> sums{};
    const int count = grid_error_sums(p, n, is_signed, word_bits, sums.data());
    std::vector<double> v(sums.begin(), sums.begin() + count);
    v.push_back(static_cast<double>(n));
    v = reduce(group, v, what);
    const double total = v.back();
    std::array<double, fixed::kMaxGridCandidates> rmse{};
    for (int f = 0; f < count; ++f)
      rmse[static_cast<size_t>(f)] = total ? std::sqrt(v[static_cast<size_t>(f)] / total) : 0.0;
    return fixed::first_minimum(rmse.data(), count);
  }
  const auto value = [](float v) { return static_cast<double>(v); };
  double m = 0;
  switch (metric) {
    case fixed::Metric::kStd: {
      const auto s = reduce(
          group, {fixed::blocked_sum(p, n, value, AtenBlocks{}), static_cast<double>(n)}, what);
      if (s[1] < 2) {
        m = 0;
        break;
      }
      const double mean = s[0] / s[1];
      const auto centered = [mean](float v) {
        const double d = static_cast<double>(v) - mean;
        return d * d;
      };
      const auto ss = reduce(group, {fixed::blocked_sum(p, n, centered, AtenBlocks{})}, what);
      m = std::sqrt(ss[0] / (s[1] - 1.0));
      break;
    }
    case fixed::Metric::kMae: {
      const auto s = reduce(
          group,
          {fixed::blocked_sum(
               p, n, [](float v) { return std::fabs(static_cast<double>(v)); }, AtenBlocks{}),
           static_cast<double>(n)},
          what);
      m = s[1] > 0 ? s[0] / s[1] : 0.0;
      break;
    }
    case fixed::Metric::kRms: {
      const auto sq = [](float v) { return static_cast<double>(v) * static_cast<double>(v); };
      const auto s =
          reduce(group, {fixed::blocked_sum(p, n, sq, AtenBlocks{}), static_cast<double>(n)}, what);
      m = s[1] > 0 ? std::sqrt(s[0] / s[1]) : 0.0;
      break;
    }
  }
  if (std::isnan(m)) return is_signed ? 7 : 8;  // as activation_fl: a NaN tensor counts as m = 0
  return fixed::fl_from_metric(m, metric, is_signed);
}

}  // namespace f8net::qat
