// `--nproc N` (dist.h: launch_local_ranks): N copies of a command with the torchrun variables,
// supervised so that one failing rank never leaves the others running. The ranks notice a dead
// peer themselves (their next collective fails or times out); the launcher only enforces a
// deadline on that, then terminates whatever is left.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include "f8net/qat/dist.h"

extern char** environ;

namespace f8net::qat {
namespace {

using Clock = std::chrono::steady_clock;

// The current environment without the torchrun variables, plus this rank's.
std::vector<std::string> rank_environment(int rank, int world, int port) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    if (key == "RANK" || key == "WORLD_SIZE" || key == "LOCAL_RANK" || key == "MASTER_ADDR" ||
        key == "MASTER_PORT" || key == "LOCAL_WORLD_SIZE") {
      continue;
    }
    env.push_back(kv);
  }
  env.push_back("RANK=" + std::to_string(rank));
  env.push_back("LOCAL_RANK=" + std::to_string(rank));
  env.push_back("WORLD_SIZE=" + std::to_string(world));
  env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(world));
  env.push_back("MASTER_ADDR=127.0.0.1");
  env.push_back("MASTER_PORT=" + std::to_string(port));
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string describe(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

int exit_code(int status) {
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

}  // namespace

int free_local_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw DistError(std::string("dist: cannot open a socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = std::strerror(errno);
    close(fd);
    throw DistError("dist: cannot find a free port on 127.0.0.1: " + why);
  }
  close(fd);
  return ntohs(a.sin_port);
}

int launch_local_ranks(const std::vector<std::string>& argv, const LaunchOptions& options) {
  if (argv.empty()) throw DistError("dist: launcher: no command");
  if (options.nproc < 1) throw DistError("dist: --nproc must be >= 1");
  const auto report =
      options.report ? options.report : [](const std::string& line) { std::cerr << line << "\n"; };
  const int port = options.port > 0 ? options.port : free_local_port();
  std::vector<std::string> args = argv;
  std::vector<char*> cargs = c_strings(args);
  std::vector<pid_t> pids;
  for (int r = 0; r < options.nproc; ++r) {
    std::vector<std::string> env = rank_environment(r, options.nproc, port);
    std::vector<char*> cenv = c_strings(env);
    const pid_t pid = fork();
    if (pid < 0) {
      for (pid_t p : pids) kill(p, SIGKILL);
      for (pid_t p : pids) waitpid(p, nullptr, 0);
      throw DistError(std::string("dist: cannot start rank ") + std::to_string(r) + ": " +
                      std::strerror(errno));
    }
    if (pid == 0) {
      execve(cargs[0], cargs.data(), cenv.data());
      const char msg[] = "dist: launcher: exec failed\n";
      (void)!write(2, msg, sizeof msg - 1);
      _exit(127);
    }
    pids.push_back(pid);
  }
  std::vector<bool> running(pids.size(), true);
  size_t alive = pids.size();
  int first_failure = 0;
  bool terminated = false, forwarded = false;
  Clock::time_point deadline{};
  while (alive > 0) {
    bool reaped = false;
    for (size_t r = 0; r < pids.size(); ++r) {
      if (!running[r]) continue;
      int status = 0;
      const pid_t got = waitpid(pids[r], &status, WNOHANG);
      if (got != pids[r]) continue;
      running[r] = false;
      --alive;
      reaped = true;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && first_failure == 0) {
        first_failure = exit_code(status);
        report("dist: rank " + std::to_string(r) + " of " + std::to_string(pids.size()) + " " +
               describe(status) + "; stopping the other ranks");
        deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options.grace_seconds));
      }
    }
    if (options.stop && !forwarded && options.stop->load() != 0) {
      for (size_t r = 0; r < pids.size(); ++r) {
        if (running[r]) kill(pids[r], options.stop->load());
      }
      forwarded = true;
    }
    if (first_failure != 0 && alive > 0 && Clock::now() >= deadline) {
      // Past the grace period: SIGTERM lets a rank save its resume point, SIGKILL 5 s later.
      for (size_t r = 0; r < pids.size(); ++r) {
        if (running[r]) kill(pids[r], terminated ? SIGKILL : SIGTERM);
      }
      deadline = Clock::now() + std::chrono::seconds(5);
      terminated = true;
    }
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return first_failure;
}

}  // namespace f8net::qat
