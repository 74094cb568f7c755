// The run-directory lock (run-lock.h): a non-blocking flock on DIR/.f8net-lock; the holder
// writes its pid into the file so the refusal can say who holds it.
#include "run-lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace f8net::qat::detail {

RunLock::RunLock(const std::string& dir) {
  const std::string path = dir + "/" + kFileName;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw std::runtime_error(dir + ": cannot open the run lock " + path + ": " +
                             std::strerror(errno));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {0};
    const ssize_t n = ::pread(fd_, pid, sizeof(pid) - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      std::string who = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "";
      while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
      throw std::runtime_error(dir + ": another f8net process" +
                               (who.empty() ? std::string() : " (pid " + who + ")") +
                               " is writing this run directory; wait for it or use another --out");
    }
    throw std::runtime_error(dir + ": cannot lock the run directory: " + std::strerror(err));
  }
  const std::string me = std::to_string(static_cast<long>(::getpid())) + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t w = ::pwrite(fd_, me.data(), me.size(), 0);
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace f8net::qat::detail
