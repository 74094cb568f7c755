// Atomic file writes (atomic-file.h): temp file + fsync + rename + directory fsync, and the
// signal-safe "exit after the write" hand-off.
#include "f8net/rt/atomic-file.h"

#include <cerrno>
#include <cstring>
#include <string>

#if defined(__unix__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#else
#include <cstdio>
#endif

namespace f8net::rt {

#if defined(__unix__)
namespace {

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

// The Status for a failed step, with errno's reason; removes the temporary file first.
Status failed(const std::string& path, const char* what, const std::string& tmp = {}) {
  const int saved = errno;
  if (!tmp.empty()) ::unlink(tmp.c_str());
  return Status(StatusCode::kIoError, path + ": " + what + ": " + std::strerror(saved));
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string file_name_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool atomic_write_in_progress() noexcept { return g_writes_in_progress.load() > 0; }

void request_exit_after_write(int code) noexcept {
  g_exit_after_write.store(code == 0 ? 1 : code);
  // The write may have finished between the caller's check and the store.
  if (g_writes_in_progress.load() == 0) ::_exit(code == 0 ? 1 : code);
}

Status write_file_atomic(const std::string& path, const void* data, size_t size) {
  const WriteInProgress in_progress;
  const std::string dir = directory_of(path);
  // A unique temporary name (mkstemp), so two writers of one path never share a temporary file;
  // the leading dot and ".tmp-" let a later run recognise and remove one left by a killed process.
  std::string tmp = dir + "/." + file_name_of(path) + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return failed(path, "cannot create a temporary file");
  const char* p = static_cast<const char*>(data);
  size_t left = size;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const Status s = failed(path, "write failed", tmp);
      ::close(fd);
      return s;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  // The data must be on disk before the rename makes it visible, or a crash could leave a
  // complete-looking but empty file.
  if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) {
    const Status s = failed(path, "fsync failed", tmp);
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return failed(path, "close failed", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed(path, "rename failed", tmp);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: the rename is durable once the directory is
    ::close(dfd);
  }
  return Status::ok();
}

#else  // no POSIX: a plain write and rename (no fsync, no signal hand-off)

bool atomic_write_in_progress() noexcept { return false; }
void request_exit_after_write(int code) noexcept { std::_Exit(code == 0 ? 1 : code); }

Status write_file_atomic(const std::string& path, const void* data, size_t size) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return Status(StatusCode::kIoError, path + ": cannot create " + tmp);
  const bool wrote = std::fwrite(data, 1, size, f) == size && std::fflush(f) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!wrote || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status(StatusCode::kIoError, path + ": cannot write");
  }
  return Status::ok();
}

#endif

}  // namespace f8net::rt
