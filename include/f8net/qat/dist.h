// Data-parallel training on PyTorch's c10d (issue 14): where a process stands in a job (the
// torchrun environment convention), the launcher behind `f8net train --nproc N`, and how one
// global batch is shared out among the ranks. No LibTorch types here; the process group itself
// (TCPStore rendezvous, ProcessGroupGloo, a timeout on every collective) is in dist-group.h, the
// statistics that cross ranks in dist-stats.h.
//
// The data-parallel contract: every rank holds the same model and optimizer state, reads its own
// contiguous slice of each global batch of the deterministic epoch order, and applies the
// AVERAGE of the ranks' gradients, so N ranks with batch B each take the same steps as one process
// with batch N*B (exactly so with dist.sync_stats: true, where the BN batch statistics and the
// per-step FL statistics are those of the global batch as well).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace f8net::qat {

// A failure of the distributed layer (rendezvous, a collective that timed out or lost a peer):
// one line naming the rank and the operation.
class DistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The torchrun convention: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT.
struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool distributed() const { return world_size > 1; }
};

// Reads the environment through `get` (std::getenv by default). No WORLD_SIZE (or 1) is a single
// process. A set WORLD_SIZE > 1 requires RANK and MASTER_PORT-or-default; malformed or out-of-range
// values throw DistError with one line naming the variable.
using EnvReader = std::function<const char*(const char*)>;
DistEnv read_dist_env(const EnvReader& get = {});

// What the trainer needs to know besides the environment (the `dist.*` config keys).
struct DistOptions {
  bool sync_stats = false;      // exact mode: global BN batch statistics and FL statistics
  double timeout_seconds = 60;  // every collective and the rendezvous give up after this long
};

// The slice [begin, end) of a global batch of `global_n` samples that `rank` of `world` trains
// on: contiguous, in rank order, sizes differing by at most one (the first global_n % world ranks
// get the extra sample). Concatenating the slices in rank order gives the global batch back.
struct Slice {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
Slice rank_slice(int64_t global_n, int rank, int world);

// The launcher of `--nproc N`: runs `argv` (argv[0] an executable path) N times with the torchrun
// variables set (RANK = LOCAL_RANK = i, WORLD_SIZE = N, MASTER_ADDR = 127.0.0.1, MASTER_PORT =
// port, or a free port when 0) and waits. When a rank fails (non-zero exit or a signal) the
// others get `grace_seconds` to exit on their own (their collectives fail: the peer is gone), then
// SIGTERM, then SIGKILL: no rank outlives the launcher. Returns 0 when every rank succeeded, else
// the first failure's exit code (128 + signal for a signal) after one line on `report` naming
// the rank.
struct LaunchOptions {
  int nproc = 2;
  int port = 0;
  double grace_seconds = 30;
  std::function<void(const std::string&)> report;  // default: stderr
  // Polled: a non-zero value (a signal number the launcher received) is passed on once to every
  // rank still running, so SIGTERM to the launcher makes each rank save and stop.
  const std::atomic<int>* stop = nullptr;
};
int launch_local_ranks(const std::vector<std::string>& argv, const LaunchOptions& options);

// A TCP port on 127.0.0.1 that was free a moment ago (for the launcher and the tests).
int free_local_port();

}  // namespace f8net::qat
