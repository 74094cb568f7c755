// Data-parallel training throughput (issue 14): samples/s of resnet20 (fixed mode, 1x28x28
// input, global batch 128) in one process and on 2 localhost ranks over Gloo (per-rank and
// global statistics), with the time each step spends in collectives. Every configuration runs in
// freshly forked processes in this one run, so the ratios compare like with like; a plain
// program (not Google Benchmark) because a measurement spans processes.
//
//   build/test/bench/bench_dist_step [steps=20] [global_batch=128]
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "f8net/qat/allocator.h"
#include "f8net/qat/dist-stats.h"
#include "f8net/qat/dist-train.h"
#include "f8net/qat/models.h"

namespace {

using namespace f8net::qat;
using Clock = std::chrono::steady_clock;

struct Figures {
  double seconds = 0, comm_seconds = 0;
};

// `steps` timed training steps (after 3 untimed ones) of rank `rank` of `world`.
Figures run_rank(int rank, int world, int port, int threads, bool sync, int steps, int64_t batch) {
  keep_freed_memory_for_reuse();
  torch::set_num_threads(threads);
  DistEnv env;
  env.rank = rank;
  env.world_size = world;
  env.master_port = port;
  DistOptions dopt;
  dopt.sync_stats = sync;
  DataParallel dp(env, dopt);
  torch::manual_seed(1);
  ModelOptions o;
  o.arch = "resnet20";
  o.in_channels = 1;
  o.input_size = 28;
  o.quant.mode = Mode::kFixed;
  Net net = make_model(o);
  net->train();
  dp.share_initial_state(*net);
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const torch::Tensor x = torch::rand({batch, 1, 28, 28});
  const torch::Tensor y = torch::randint(0, 10, {batch}, torch::kLong);
  const Slice s = dp.slice(batch);
  const torch::Tensor xs = x.narrow(0, s.begin, s.size()), ys = y.narrow(0, s.begin, s.size());
  Figures f;
  double comm_before = 0;
  Clock::time_point start;
  for (int i = 0; i < steps + 3; ++i) {
    if (i == 3) {
      start = Clock::now();
      comm_before = dp.communication_seconds();
    }
    dp.begin_step(*net);
    opt.zero_grad();
    {
      StatsSyncScope scope(dp.sync_group());
      const torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(xs), ys);
      (loss * dp.loss_weight(s.size(), batch)).backward();
    }
    dp.finish_backward(*net);
    opt.step();
    dp.sum<1>({0.0}, "step figures");
  }
  f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  f.comm_seconds = dp.communication_seconds() - comm_before;
  return f;
}

// Rank 0's figures of one configuration, each rank a forked process.
Figures measure(int world, int threads, bool sync, int steps, int64_t batch) {
  const int port = free_local_port();
  int fds[2];
  if (pipe(fds) != 0) std::exit(1);
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      const Figures f = run_rank(r, world, port, threads, sync, steps, batch);
      if (r == 0 && write(fds[1], &f, sizeof f) != static_cast<ssize_t>(sizeof f)) _exit(1);
      _exit(0);
    }
    pids.push_back(pid);
  }
  close(fds[1]);
  Figures f;
  const bool got = read(fds[0], &f, sizeof f) == static_cast<ssize_t>(sizeof f);
  close(fds[0]);
  for (pid_t p : pids) waitpid(p, nullptr, 0);
  if (!got) {
    std::fprintf(stderr, "bench_dist_step: a rank failed\n");
    std::exit(1);
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 20;
  const int64_t batch = argc > 2 ? std::atoll(argv[2]) : 128;
  std::printf("resnet20 fixed, 1x28x28, global batch %lld, %d timed steps per configuration\n",
              static_cast<long long>(batch), steps);
  std::printf("%-34s %10s %8s %14s\n", "configuration", "samples/s", "ratio", "comm ms/step");
  struct Config {
    const char* name;
    int world, threads;
    bool sync;
  };
  const Config configs[] = {{"1 process, 1 thread", 1, 1, false},
                            {"1 process, 2 threads", 1, 2, false},
                            {"2 ranks x 1 thread, per-rank stats", 2, 1, false},
                            {"2 ranks x 1 thread, sync_stats", 2, 1, true}};
  double base = 0;
  for (const Config& c : configs) {
    const Figures f = measure(c.world, c.threads, c.sync, steps, batch);
    const double rate = static_cast<double>(batch) * steps / f.seconds;
    if (base == 0) base = rate;
    std::printf("%-34s %10.1f %8.2f %14.2f\n", c.name, rate, rate / base,
                1000.0 * f.comm_seconds / steps);
  }
  return 0;
}
