// DistGroup (dist-group.h) on c10d's TCPStore and ProcessGroupGloo, and the module-level
// collectives of data parallelism. Only APIs that LibTorch 1.13 and 2.x share are used: the
// concrete ProcessGroupGloo (a ProcessGroup in 1.13, a Backend in 2.x) is called directly.
#include "f8net/qat/dist-group.h"

#include <chrono>
#include <map>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "f8net/qat/checkpoint.h"

namespace f8net::qat {
namespace {

using Clock = std::chrono::steady_clock;

std::string first_line(const std::string& text) {
  const auto nl = text.find('\n');
  return nl == std::string::npos ? text : text.substr(0, nl);
}

}  // namespace

struct DistGroup::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
};

DistGroup::DistGroup(const DistEnv& env, std::chrono::milliseconds timeout)
    : env_(env), timeout_(timeout), impl_(std::make_unique<Impl>()) {
  const std::string where =
      "dist: rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) + ": ";
  const std::string seconds = std::to_string(timeout.count() / 1000) + " s";
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<std::size_t>(env.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // Gloo's transport binds to the interface that resolves MASTER_ADDR's way: on one machine the
    // loopback, on several the address this host reaches the master by (its hostname).
    const bool local = env.master_addr == "127.0.0.1" || env.master_addr == "localhost";
    opts->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                  : c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = 1;
    impl_->gloo =
        c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env.rank, env.world_size, opts);
  } catch (const c10::Error& e) {
    throw DistError(where + "rendezvous at " + env.master_addr + ":" +
                    std::to_string(env.master_port) + " failed within " + seconds + ": " +
                    torch_error_line(e));
  } catch (const std::exception& e) {
    throw DistError(where + "rendezvous at " + env.master_addr + ":" +
                    std::to_string(env.master_port) + " failed within " + seconds + ": " +
                    first_line(e.what()));
  }
}

DistGroup::~DistGroup() = default;

template <typename F>
void DistGroup::run(const std::string& op, const std::string& what, F&& f) {
  const auto start = Clock::now();
  const auto fail = [&](const std::string& why) {
    throw DistError("dist: rank " + std::to_string(env_.rank) + " of " +
                    std::to_string(env_.world_size) + ": " + op + " of " + what +
                    " failed (a rank exited or stopped answering; every collective waits at most " +
                    std::to_string(timeout_.count() / 1000) + " s): " + why);
  };
  try {
    auto work = f();
    if (!work->wait(timeout_)) fail("timed out");
  } catch (const DistError&) {
    throw;
  } catch (const c10::Error& e) {
    fail(torch_error_line(e));
  } catch (const std::exception& e) {
    fail(first_line(e.what()));
  }
  comm_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
}

void DistGroup::all_reduce_sum(std::vector<torch::Tensor>& tensors, const std::string& what) {
  if (tensors.empty()) return;
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::SUM;
  o.timeout = timeout_;
  run("all-reduce", what, [&] { return impl_->gloo->allreduce(tensors, o); });
}

void DistGroup::broadcast(std::vector<torch::Tensor>& tensors, int root, const std::string& what) {
  if (tensors.empty()) return;
  c10d::BroadcastOptions o;
  o.rootRank = root;
  o.timeout = timeout_;
  run("broadcast", what, [&] { return impl_->gloo->broadcast(tensors, o); });
}

void DistGroup::barrier(const std::string& what) {
  c10d::BarrierOptions o;
  o.timeout = timeout_;
  run("barrier", what, [&] { return impl_->gloo->barrier(o); });
}

namespace {

// One flat buffer per dtype holding `tensors` in order, reduced or broadcast in one call (one
// message instead of one per tensor), then copied back.
template <typename Collective>
void flat_collective(std::vector<torch::Tensor> tensors, Collective&& collective) {
  torch::NoGradGuard no_grad;
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_type;
  for (auto& t : tensors) by_type[t.scalar_type()].push_back(t);
  for (auto& [type, group] : by_type) {
    std::vector<torch::Tensor> flat{torch::cat([&] {
      std::vector<torch::Tensor> v;
      for (const auto& t : group) v.push_back(t.reshape({-1}));
      return v;
    }())};
    collective(flat);
    int64_t offset = 0;
    for (auto& t : group) {
      const int64_t n = t.numel();
      t.copy_(flat[0].narrow(0, offset, n).view_as(t));
      offset += n;
    }
  }
}

std::vector<torch::Tensor> state_tensors(torch::nn::Module& module, bool parameters, bool buffers) {
  std::vector<torch::Tensor> out;
  if (parameters) {
    for (auto& p : module.parameters()) out.push_back(p);
  }
  if (buffers) {
    for (auto& b : module.buffers()) out.push_back(b);
  }
  return out;
}

}  // namespace

std::vector<torch::Tensor> gradients_of(torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (auto& p : module.parameters()) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    out.push_back(p.grad());
  }
  return out;
}

void average_gradients(DistGroup& group, torch::nn::Module& module) {
  if (group.world_size() == 1) return;
  flat_collective(gradients_of(module), [&](std::vector<torch::Tensor>& flat) {
    group.all_reduce_sum(flat, "gradients");
    flat[0].div_(static_cast<double>(group.world_size()));
  });
}

void broadcast_state(DistGroup& group, torch::nn::Module& module) {
  if (group.world_size() == 1) return;
  flat_collective(state_tensors(module, true, true), [&](std::vector<torch::Tensor>& flat) {
    group.broadcast(flat, 0, "the initial model state");
  });
}

void sync_buffers(DistGroup& group, torch::nn::Module& module, bool average) {
  if (group.world_size() == 1) return;
  std::vector<torch::Tensor> buffers;
  for (auto& b : state_tensors(module, false, true)) {
    if (b.is_floating_point()) buffers.push_back(b);
  }
  flat_collective(buffers, [&](std::vector<torch::Tensor>& flat) {
    if (average) {
      group.all_reduce_sum(flat, "the running statistics");
      flat[0].div_(static_cast<double>(group.world_size()));
    } else {
      group.broadcast(flat, 0, "the running statistics");
    }
  });
}

}  // namespace f8net::qat
