// Atomic file writes (checkpoint-io.h): temp file + fsync + rename + directory fsync, and the
// signal-safe "exit after the write" hand-off.
#include "f8net/qat/checkpoint-io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace f8net::qat {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what + ": " + std::strerror(errno));
}

std::atomic<int> g_writes_in_progress{0};
std::atomic<int> g_exit_after_write{0};

// Counts one write in progress; on leaving (success or failure), honours a deferred exit.
struct WriteInProgress {
  WriteInProgress() { g_writes_in_progress.fetch_add(1); }
  ~WriteInProgress() {
    if (g_writes_in_progress.fetch_sub(1) == 1) {
      const int code = g_exit_after_write.load();
      if (code != 0) ::_exit(code);
    }
  }
};

}  // namespace

bool atomic_write_in_progress() noexcept { return g_writes_in_progress.load() > 0; }
void request_exit_after_write(int code) noexcept {
  g_exit_after_write.store(code == 0 ? 1 : code);
  // The write may have finished between the caller's check and the store.
  if (g_writes_in_progress.load() == 0) ::_exit(code == 0 ? 1 : code);
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const WriteInProgress in_progress;
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmp = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = mkstemp(tmp.data());
  if (fd < 0) fail(path, "cannot create a temporary file");
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      errno = saved;
      fail(path, "write failed");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) {
    const int saved = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = saved;
    fail(path, "fsync failed");
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    fail(path, "close failed");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    fail(path, "rename failed");
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: the rename is durable once the directory is
    ::close(dfd);
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) fail(path, "read failed");
  return s.str();
}

}  // namespace f8net::qat
