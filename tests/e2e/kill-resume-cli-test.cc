// SIGKILL at a random moment of a real `f8net train` process, then `train --resume`: the run ends
// with exactly the uninterrupted run's metrics (every field but the wall-clock seconds), whatever
// the moment — mid-epoch, mid-save, between stages, or before the first checkpoint (then the
// retry starts afresh on the same --out), and the resumed run's summary says which figures come
// from the checkpoint's record. The kill times are random; the seed is printed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli-runner.h"

namespace {

namespace fs = std::filesystem;
using f8net::testing::TempDir;
using Clock = std::chrono::steady_clock;

// Starts `f8net args` with stdout/stderr to files in `dir`; returns its pid.
pid_t spawn(const std::string& args, const TempDir& dir) {
  const std::string cmd = "exec " + std::string(F8NET_BINARY) + " " + args + " >" +
                          (dir / "bg-out.txt") + " 2>" + (dir / "bg-err.txt");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// metrics.jsonl without the "seconds" field of each line (wall time differs between runs).
std::vector<std::string> metrics_without_time(const std::string& run_dir) {
  std::vector<std::string> out;
  std::istringstream in(f8net::testing::slurp(run_dir + "/metrics.jsonl"));
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find("\"seconds\":");
    if (at != std::string::npos) {
      const auto end = line.find_first_of(",}", at);
      line.erase(at, end - at + (line[end] == ',' ? 1 : 0));
    }
    out.push_back(line);
  }
  return out;
}

}  // namespace

TEST(KillResume, SigkillAtRandomMomentsThenResumeReproducesTheMetrics) {
  TempDir d;
  f8net::testing::write_fashion_dir(d / "data", 480, 32);
  // Float pre-training then fixed-point training, a checkpoint every 2 iterations (15 per epoch).
  f8net::testing::write_text(d / "run.yaml",
                             "model: {arch: small_cnn, width_mult: 0.5}\n"
                             "data: {dataset: fashion-mnist, dir: " +
                                 (d / "data") +
                                 "}\n"
                                 "pretrain: {mode: float, epochs: 1, batch_size: 16, lr: 0.05}\n"
                                 "train: {mode: fixed, epochs: 2, batch_size: 16, lr: 0.01}\n"
                                 "checkpoint: {every_iterations: 2, every_seconds: 0}\n"
                                 "threads: 1\nseed: 7\n");
  const std::string train = "train --config " + (d / "run.yaml") + " --out ";

  const auto t0 = Clock::now();
  const auto full = f8net::testing::run_cli(train + (d / "full"), d);
  ASSERT_EQ(full.code, 0) << full.err;
  EXPECT_EQ(full.out.find("not measured now"), std::string::npos) << full.out;
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::vector<std::string> expected = metrics_without_time(d / "full");
  ASSERT_EQ(expected.size(), 3u);  // one line per epoch: 1 float + 2 fixed

  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> when(0.05 * seconds, 0.95 * seconds);
  for (int trial = 0; trial < 4; ++trial) {
    const std::string out = d / ("killed" + std::to_string(trial));
    const double at = when(rng);
    SCOPED_TRACE("seed " + std::to_string(seed) + ", SIGKILL after " + std::to_string(at) + " s");
    const pid_t pid = spawn(train + out, d);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::duration<double>(at));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const bool killed = WIFSIGNALED(status);  // it may have finished just before the kill

    if (!killed) {
      std::printf("trial %d: finished before the kill at %.2f s\n", trial, at);
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    } else if (fs::exists(out + "/pretrain-last.pt") || fs::exists(out + "/train-last.pt")) {
      std::printf("trial %d: killed after %.2f of %.2f s, resumed from %s\n", trial, at, seconds,
                  fs::exists(out + "/train-last.pt") ? "train-last.pt" : "pretrain-last.pt");
      const auto r = f8net::testing::run_cli("train --out " + out + " --resume", d);
      ASSERT_EQ(r.code, 0) << r.err;
      // The summary says which figures it did not measure itself.
      EXPECT_NE(r.out.find("from the checkpoint's record, not measured now"), std::string::npos)
          << r.out;
    } else {
      // Killed before the first checkpoint: a plain retry on the same --out must be accepted.
      std::printf("trial %d: killed after %.2f of %.2f s, before any checkpoint\n", trial, at,
                  seconds);
      const auto r = f8net::testing::run_cli(train + out, d);
      ASSERT_EQ(r.code, 0) << r.err;
    }
    EXPECT_EQ(metrics_without_time(out), expected);
    for (const auto& e : fs::directory_iterator(out)) {
      EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos)
          << "a temporary file was left behind: " << e.path();
    }
  }
}
