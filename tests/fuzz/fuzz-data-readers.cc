// libFuzzer target: f8net_data's IDX (raw and gzip) and CIFAR-10 readers. The input is split at
// its first byte into two files (images, labels; or two CIFAR batches); any input must give a
// data set or a DataError, never a crash or an out-of-bounds read.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "f8net/data/cifar10.h"
#include "f8net/data/error.h"
#include "f8net/data/idx.h"

namespace {

std::string write_temp(const char* tag, const uint8_t* p, size_t n) {
  const std::string path = "/tmp/f8net-fuzz-" + std::to_string(::getpid()) + "-" + tag;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f != nullptr) {
    std::fwrite(p, 1, n, f);
    std::fclose(f);
  }
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t cut = 1 + (size - 1) * data[0] / 255;
  const std::string a = write_temp("a", data + 1, cut - 1);
  const std::string b = write_temp("b", data + cut, size - cut);
  try {
    f8net::data::read_idx(a, b, 10);
  } catch (const f8net::data::DataError&) {
  }
  try {
    f8net::data::read_cifar10({a, b});
  } catch (const f8net::data::DataError&) {
  }
  std::remove(a.c_str());
  std::remove(b.c_str());
  return 0;
}
