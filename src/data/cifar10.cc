// read_cifar10 (cifar10.h): whole batch files, each checked to be whole records with valid
// labels before its pixels are kept.
#include "f8net/data/cifar10.h"

#include "f8net/data/gzip-file.h"
#include "fail.h"

namespace f8net::data {

using detail::fail;

ImageArray read_cifar10(const std::vector<std::string>& paths) {
  constexpr int64_t kRecord = 1 + 3 * 32 * 32;
  ImageArray a;
  a.channels = 3;
  a.height = a.width = 32;
  for (const auto& path : paths) {
    const std::vector<uint8_t> b = read_maybe_gzip(path, uint64_t{1} << 28);
    if (b.empty() || b.size() % kRecord != 0) {
      fail(path, "size " + std::to_string(b.size()) + " is not a whole number of " +
                     std::to_string(kRecord) + "-byte CIFAR-10 records");
    }
    const int64_t n = static_cast<int64_t>(b.size()) / kRecord;
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* rec = b.data() + i * kRecord;
      if (rec[0] >= 10) {
        fail(path, "label " + std::to_string(rec[0]) + " of record " + std::to_string(i) +
                       " is out of range [0, 10)");
      }
      a.labels.push_back(rec[0]);
      a.pixels.insert(a.pixels.end(), rec + 1, rec + kRecord);
    }
    a.count += n;
  }
  return a;
}

}  // namespace f8net::data
