// The distributed layer (issue 14) on localhost: the torchrun environment, rank slices, the
// `--nproc` launcher, Gloo collectives with their timeouts, and the statistics that cross ranks
// (global BN batch statistics and activation FLs equal the single-process values on the
// concatenated batch). Ranks are forked children of the test process (ctest runs each test in
// its own process, before LibTorch starts any thread); each child checks its results itself
// and reports through its exit status.
#include "f8net/qat/dist.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "evaluation-loop.h"
#include "f8net/data/dataset.h"
#include "f8net/qat/dist-group.h"
#include "f8net/qat/dist-stats.h"
#include "f8net/qat/models.h"
#include "f8net/qat/modules.h"
#include "f8net/qat/quantize.h"

namespace f8net::qat {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Runs body(rank) in `world` forked ranks joined in one group (collective timeout
// `timeout_ms`); returns each rank's exit status (0: the body returned true). A rank that
// outlives `limit_s` is killed (the test then fails on its status, it never hangs).
std::vector<int> run_ranks(int world, const std::function<bool(DistGroup&)>& body,
                           int timeout_ms = 20000, double limit_s = 60) {
  const int port = free_local_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    const pid_t pid = fork();
    if (pid == 0) {
      int code = 1;
      try {
        torch::set_num_threads(1);
        DistEnv env;
        env.rank = r;
        env.world_size = world;
        env.master_port = port;
        DistGroup group(env, std::chrono::milliseconds(timeout_ms));
        code = body(group) ? 0 : 1;
      } catch (const std::exception& e) {
        std::cerr << "rank " << r << ": " << e.what() << "\n";
        code = 2;
      }
      std::cerr.flush();
      _exit(code);
    }
    pids.push_back(pid);
  }
  std::vector<int> status(pids.size(), -1);
  const auto start = Clock::now();
  size_t left = pids.size();
  while (left > 0) {
    for (size_t r = 0; r < pids.size(); ++r) {
      int s = 0;
      if (status[r] != -1 || waitpid(pids[r], &s, WNOHANG) != pids[r]) continue;
      status[r] = WIFEXITED(s) ? WEXITSTATUS(s) : 128 + WTERMSIG(s);
      --left;
    }
    if (left > 0 && seconds_since(start) > limit_s) {
      for (size_t r = 0; r < pids.size(); ++r) {
        if (status[r] == -1) kill(pids[r], SIGKILL);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status;
}

// The same random tensor in every rank (and in the test process): a fixed seed per call.
torch::Tensor seeded(std::vector<int64_t> shape, uint64_t seed, double scale, double shift = 0) {
  torch::Generator g = at::detail::createCPUGenerator(seed);
  return torch::randn(shape, g) * scale + shift;
}

// Rank r's contiguous slice (dist.h: rank_slice) of a batch along dim 0.
torch::Tensor slice_of(const torch::Tensor& x, int rank, int world) {
  const Slice s = rank_slice(x.size(0), rank, world);
  return x.narrow(0, s.begin, s.size());
}

TEST(DistEnv, SingleProcessWithoutWorldSize) {
  const DistEnv env = read_dist_env([](const char*) -> const char* { return nullptr; });
  EXPECT_FALSE(env.distributed());
  EXPECT_EQ(env.rank, 0);
}

TEST(DistEnv, ReadsTheTorchrunVariables) {
  const std::map<std::string, const char*> vars = {{"WORLD_SIZE", "4"},
                                                   {"RANK", "3"},
                                                   {"LOCAL_RANK", "1"},
                                                   {"MASTER_ADDR", "node0"},
                                                   {"MASTER_PORT", "1234"}};
  const DistEnv env = read_dist_env([&](const char* n) -> const char* {
    const auto it = vars.find(n);
    return it == vars.end() ? nullptr : it->second;
  });
  EXPECT_TRUE(env.distributed());
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.master_addr, "node0");
  EXPECT_EQ(env.master_port, 1234);
}

TEST(DistEnv, RefusesBadValuesWithOneLine) {
  const auto env_of = [](std::map<std::string, const char*> vars) {
    return read_dist_env([vars](const char* n) -> const char* {
      const auto it = vars.find(n);
      return it == vars.end() ? nullptr : it->second;
    });
  };
  const auto message = [&](std::map<std::string, const char*> vars) {
    try {
      env_of(vars);
    } catch (const DistError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"WORLD_SIZE", "2"}}).find("RANK is not"), std::string::npos);
  EXPECT_NE(message({{"WORLD_SIZE", "2"}, {"RANK", "2"}}).find("RANK='2'"), std::string::npos);
  EXPECT_NE(message({{"WORLD_SIZE", "two"}}).find("WORLD_SIZE='two'"), std::string::npos);
  EXPECT_NE(
      message({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_PORT", "70000"}}).find("MASTER_PORT"),
      std::string::npos);
  for (const auto& m : {message({{"WORLD_SIZE", "2"}}), message({{"WORLD_SIZE", "x"}})}) {
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(DistSlices, ConcatenateToTheGlobalBatchInRankOrder) {
  for (int64_t n : {0, 1, 7, 8, 64, 65}) {
    for (int world : {1, 2, 3, 8}) {
      int64_t next = 0, smallest = n, largest = 0;
      for (int r = 0; r < world; ++r) {
        const Slice s = rank_slice(n, r, world);
        EXPECT_EQ(s.begin, next);
        next = s.end;
        smallest = std::min(smallest, s.size());
        largest = std::max(largest, s.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(largest - smallest, 1);
    }
  }
  EXPECT_THROW(rank_slice(8, 2, 2), DistError);
}

TEST(DistLaunch, RanksGetTheTorchrunEnvironment) {
  LaunchOptions o;
  o.nproc = 3;
  // Every rank checks its own variables; a wrong one fails the launch.
  const int rc = launch_local_ranks(
      {"/bin/sh", "-c",
       "[ \"$WORLD_SIZE\" = 3 ] && [ \"$RANK\" = \"$LOCAL_RANK\" ] && [ \"$RANK\" -lt 3 ] && "
       "[ \"$MASTER_ADDR\" = 127.0.0.1 ] && [ \"$MASTER_PORT\" -gt 0 ]"},
      o);
  EXPECT_EQ(rc, 0);
}

TEST(DistLaunch, AFailedRankStopsTheOthersWithOneLine) {
  std::vector<std::string> lines;
  LaunchOptions o;
  o.nproc = 2;
  o.grace_seconds = 0.5;
  o.report = [&](const std::string& l) { lines.push_back(l); };
  const auto start = Clock::now();
  // Rank 1 dies by SIGKILL; rank 0 would sleep for a minute but is terminated after the grace
  // (exec: the signal reaches the sleep itself, which would otherwise hold ctest's pipe open).
  const int rc = launch_local_ranks(
      {"/bin/sh", "-c", "if [ \"$RANK\" = 1 ]; then kill -9 $$; fi; exec sleep 60"}, o);
  EXPECT_EQ(rc, 128 + SIGKILL);
  EXPECT_LT(seconds_since(start), 15.0);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("rank 1 of 2 was killed by signal 9"), std::string::npos) << lines[0];
}

TEST(DistGroup, AllReduceBroadcastAndGradientAverage) {
  const auto status = run_ranks(2, [](DistGroup& g) {
    std::vector<torch::Tensor> t{torch::full({5}, static_cast<float>(g.rank() + 1))};
    g.all_reduce_sum(t, "a test tensor");
    bool ok = t[0].eq(3.0f).all().item<bool>();
    std::vector<torch::Tensor> b{torch::full({3}, static_cast<double>(10 * g.rank() + 7))};
    g.broadcast(b, 1, "a test tensor");
    ok = ok && b[0].eq(17.0).all().item<bool>();
    // Different initial weights on the ranks: broadcast_state makes them rank 0's; the averaged
    // gradient is the mean of the two ranks' gradients.
    torch::manual_seed(static_cast<uint64_t>(100 + g.rank()));
    torch::nn::Linear lin(4, 3);
    broadcast_state(g, *lin);
    torch::manual_seed(100);
    torch::nn::Linear rank0(4, 3);
    ok = ok && torch::equal(lin->weight, rank0->weight) && torch::equal(lin->bias, rank0->bias);
    const torch::Tensor x = seeded({6, 4}, 5, 1.0);
    lin->zero_grad();
    lin->forward(slice_of(x, g.rank(), 2)).square().mean().backward();
    average_gradients(g, *lin);
    rank0->zero_grad();
    torch::Tensor whole = rank0->forward(x).square();
    whole.mean().backward();  // equal halves: the mean of the half-means is the whole mean
    ok = ok && torch::allclose(lin->weight.grad(), rank0->weight.grad(), 1e-6, 1e-7);
    return ok;
  });
  EXPECT_EQ(status, (std::vector<int>{0, 0}));
}

TEST(DistGroup, ADeadPeerFailsTheCollectiveWithinTheTimeout) {
  const auto status = run_ranks(
      2,
      [](DistGroup& g) {
        // One collective that works first, so both ranks are past the group's set-up (a rank
        // that vanished during it made rank 0 fail in the constructor instead, once under load).
        std::vector<torch::Tensor> t{torch::ones({4})};
        g.all_reduce_sum(t, "warm-up");
        if (g.rank() == 1) {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let rank 0 read it all
          _exit(0);  // then gone without a word, as a killed rank
        }
        const auto start = Clock::now();
        try {
          g.all_reduce_sum(t, "gradients");
        } catch (const DistError& e) {
          const std::string m = e.what();
          std::cerr << "rank 0 saw: " << m << "\n";
          return m.find("rank 0 of 2: all-reduce of gradients failed") != std::string::npos &&
                 m.find('\n') == std::string::npos && seconds_since(start) < 10.0;
        }
        return false;
      },
      /*timeout_ms=*/3000, /*limit_s=*/30);
  EXPECT_EQ(status, (std::vector<int>{0, 0}));
}

TEST(DistStats, GlobalBatchStatsEqualTheWholeBatch) {
  const auto status = run_ranks(2, [](DistGroup& g) {
    // Channels with a large mean relative to their spread test the sum-of-squares variance.
    const torch::Tensor y = seeded({6, 3, 5, 5}, 11, 0.7, 3.0);
    const torch::Tensor gm = seeded({3}, 12, 1.0), gv = seeded({3}, 13, 1.0);
    // Single process, whole batch.
    torch::Tensor yw = y.clone().set_requires_grad(true);
    const auto [mw, vw] = batch_stats(yw);
    ((mw * gm).sum() + (vw * gv).sum()).backward();
    // This rank's slice. Each rank's loss is half the whole-batch loss (data parallelism trains
    // the mean of the ranks' losses): the statistics' gradients are summed over the ranks, so a
    // rank's input gradient is `world` times the gradient of that mean, i.e. here its slice of
    // the whole-batch gradient (average_gradients then divides the parameter gradients by world).
    torch::Tensor ys = slice_of(y, g.rank(), 2).clone().set_requires_grad(true);
    const GlobalBatchStats s = global_batch_stats(g, ys);
    ((s.mean * gm).sum() + (s.var * gv).sum()).div(2.0).backward();
    bool ok = s.count == 6 * 25;
    // Float32 outputs of double sums; the variance via E[y^2] - mean^2 with |mean| ~ 4 sd.
    ok = ok && torch::allclose(s.mean, mw, 1e-6, 1e-6) && torch::allclose(s.var, vw, 1e-5, 1e-6);
    ok = ok && torch::allclose(ys.grad(), slice_of(yw.grad(), g.rank(), 2), 1e-5, 1e-6);
    if (!ok) {
      std::cerr << "mean " << s.mean << " vs " << mw << "\nvar " << s.var << " vs " << vw << "\n";
    }
    return ok;
  });
  EXPECT_EQ(status, (std::vector<int>{0, 0}));
}

TEST(DistStats, GlobalActivationFlEqualsTheWholeBatch) {
  const auto status = run_ranks(2, [](DistGroup& g) {
    bool ok = true;
    uint64_t seed = 20;
    for (double scale : {0.01, 0.3, 2.0, 40.0}) {
      for (bool is_signed : {true, false}) {
        torch::Tensor x = seeded({8, 4, 3, 3}, ++seed, scale);
        if (!is_signed) x = x.abs();
        for (auto metric : {fixed::Metric::kStd, fixed::Metric::kMae, fixed::Metric::kRms}) {
          for (bool grid : {false, true}) {
            for (int bits : {8, 4}) {
              const int32_t whole = activation_fl(x, is_signed, metric, grid, bits);
              const int32_t global =
                  global_activation_fl(g, slice_of(x, g.rank(), 2), is_signed, metric, grid, bits);
              if (whole != global) {
                std::cerr << "scale " << scale << " signed " << is_signed << " metric "
                          << static_cast<int>(metric) << " grid " << grid << " bits " << bits
                          << ": FL " << global << " vs " << whole << "\n";
                ok = false;
              }
            }
          }
        }
      }
    }
    return ok;
  });
  EXPECT_EQ(status, (std::vector<int>{0, 0}));
}

TEST(DistStats, ScopeSetsTheGroupOnThisThreadOnly) {
  EXPECT_EQ(stats_sync_group(), nullptr);
  auto* fake = reinterpret_cast<DistGroup*>(0x10);
  {
    StatsSyncScope scope(fake);
    EXPECT_EQ(stats_sync_group(), fake);
    std::thread([] { EXPECT_EQ(stats_sync_group(), nullptr); }).join();
  }
  EXPECT_EQ(stats_sync_group(), nullptr);
}

// Per-epoch validation on several ranks: each rank forwards its slice of every batch and every
// rank returns the single-process figures (37 images in batches of 9: the last batch of 1 leaves
// rank 1 nothing to do).
TEST(DistEval, ShardedEvaluationEqualsTheWholeSet) {
  data::ImageArray a;
  a.count = 37;
  a.channels = 1;
  a.height = a.width = 28;
  std::mt19937 rng(5);
  for (int64_t i = 0; i < a.count * 28 * 28; ++i) a.pixels.push_back(static_cast<uint8_t>(rng()));
  for (int64_t i = 0; i < a.count; ++i) a.labels.push_back(static_cast<int64_t>(rng() % 10));
  const auto ds = data::make_array_dataset(std::move(a), 10, {}, "random");
  const auto statuses = run_ranks(2, [&](DistGroup& g) {
    torch::manual_seed(3);
    ModelOptions o;
    o.quant.mode = Mode::kFixed;
    Net net = make_model(o);
    data::TransformOptions t;
    DataConfig dc;
    dc.workers = 1;
    const detail::EvalTotals whole =
        detail::evaluate(*net, ds, t, dc, 9, "whole", nullptr, nullptr);
    const detail::EvalTotals shard =
        detail::evaluate(*net, ds, t, dc, 9, "shard", nullptr, nullptr, &g);
    const bool same = shard.images == 37 && whole.images == 37 && shard.top1 == whole.top1 &&
                      shard.top5 == whole.top5 && whole.top5 > 0 &&
                      std::fabs(shard.loss - whole.loss) <= 1e-5 * std::fabs(whole.loss);
    if (!same) {
      std::cerr << "rank " << g.rank() << ": images " << shard.images << " top1 " << shard.top1
                << " vs " << whole.top1 << " top5 " << shard.top5 << " vs " << whole.top5
                << " loss " << shard.loss << " vs " << whole.loss << "\n";
    }
    return same;
  });
  EXPECT_EQ(statuses, (std::vector<int>{0, 0}));
}

}  // namespace
}  // namespace f8net::qat
