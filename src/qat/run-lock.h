// An exclusive lock on a run directory, so two `f8net train` processes never write one run: the
// second is refused with one line instead of mixing config, checkpoints and metrics. The lock is
// flock(2) on DIR/.f8net-lock, released by the kernel when the process ends (even on SIGKILL).
#pragma once

#include <string>

namespace f8net::qat::detail {

class RunLock {
 public:
  // Takes the lock or throws std::runtime_error naming the directory (and the holder's pid when
  // it can be read). The directory must exist.
  explicit RunLock(const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  static constexpr const char* kFileName = ".f8net-lock";

 private:
  int fd_ = -1;
};

}  // namespace f8net::qat::detail
