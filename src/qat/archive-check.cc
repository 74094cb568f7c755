// Tensor bounds and integrity digests of LibTorch archives (archive-check.h). The bound check is
// done in int64 with overflow checks: storage_offset + sum((size_i - 1) * stride_i) must address
// an element inside the storage, strides non-negative.
#include "archive-check.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "zip-check.h"

namespace f8net::qat::detail {
namespace {

[[noreturn]] void bad(const std::string& path, const std::string& name, const std::string& why) {
  throw std::runtime_error(path + ": corrupt checkpoint: tensor '" + name + "' " + why);
}

bool readable_dtype(c10::ScalarType t) {
  switch (t) {
    case c10::ScalarType::Float:
    case c10::ScalarType::Double:
    case c10::ScalarType::Long:
    case c10::ScalarType::Int:
    case c10::ScalarType::Byte:
    case c10::ScalarType::Char:
    case c10::ScalarType::Bool:
    case c10::ScalarType::Half:
    case c10::ScalarType::BFloat16:
      return true;
    default:
      return false;
  }
}

void check_tensor(const at::Tensor& t, const std::string& path, const std::string& name) {
  if (!t.defined()) return;
  if (t.layout() != c10::kStrided || !t.has_storage()) bad(path, name, "is not a dense tensor");
  if (!t.device().is_cpu()) bad(path, name, "is not a CPU tensor");
  if (!readable_dtype(t.scalar_type())) {
    bad(path, name, std::string("has an unsupported dtype ") + c10::toString(t.scalar_type()));
  }
  const int64_t offset = t.storage_offset();
  if (offset < 0) bad(path, name, "has a negative storage offset");
  int64_t last = offset;  // index of the last element addressed
  bool empty = false;
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t size = t.size(d), stride = t.stride(d);
    if (size < 0 || stride < 0) bad(path, name, "has a negative size or stride");
    if (size == 0) empty = true;
    int64_t span = 0;
    if (size > 0 && (__builtin_mul_overflow(size - 1, stride, &span) ||
                     __builtin_add_overflow(last, span, &last))) {
      bad(path, name, "has sizes and strides that overflow");
    }
  }
  if (empty) return;
  const int64_t item = static_cast<int64_t>(t.element_size());
  int64_t need = 0;
  if (__builtin_add_overflow(last, 1, &need) || __builtin_mul_overflow(need, item, &need) ||
      static_cast<uint64_t>(need) > t.storage().nbytes()) {
    bad(path, name,
        "reaches beyond its storage (" + std::to_string(need) + " bytes addressed, " +
            std::to_string(t.storage().nbytes()) + " stored)");
  }
}

void walk_check(torch::serialize::InputArchive& archive, const std::string& path,
                const std::string& prefix) {
  for (const std::string& key : archive.keys()) {
    torch::serialize::InputArchive sub;
    if (archive.try_read(key, sub)) {
      walk_check(sub, path, prefix + key + "/");
      continue;
    }
    c10::IValue v;
    if (archive.try_read(key, v) && v.isTensor()) check_tensor(v.toTensor(), path, prefix + key);
  }
}

struct Fnv {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 0x100000001b3ull;
    }
  }
  void add_string(const std::string& s) {
    const uint64_t n = s.size();
    add(&n, sizeof(n));
    add(s.data(), s.size());
  }
  template <typename T>
  void add_value(T v) {
    add(&v, sizeof(v));
  }
};

void walk_digest(torch::serialize::InputArchive& archive, const std::string& prefix, Fnv* f) {
  std::vector<std::string> keys = archive.keys();
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    if (prefix.empty() && key == kChecksumKey) continue;
    torch::serialize::InputArchive sub;
    if (archive.try_read(key, sub)) {
      walk_digest(sub, prefix + key + "/", f);
      continue;
    }
    c10::IValue v;
    if (!archive.try_read(key, v)) continue;
    f->add_string(prefix + key);
    if (v.isTensor()) {
      const at::Tensor t = v.toTensor().contiguous();
      f->add_value(static_cast<int32_t>(t.scalar_type()));
      f->add_value(static_cast<int64_t>(t.dim()));
      for (int64_t s : t.sizes()) f->add_value(s);
      f->add(t.data_ptr(), t.nbytes());
    } else if (v.isString()) {
      f->add_string(v.toStringRef());
    } else if (v.isInt()) {
      f->add_value(v.toInt());
    } else if (v.isDouble()) {
      f->add_value(v.toDouble());
    } else if (v.isBool()) {
      f->add_value(static_cast<uint8_t>(v.toBool()));
    }
  }
}

}  // namespace

void check_archive_tensors(torch::serialize::InputArchive& archive, const std::string& path) {
  walk_check(archive, path, "");
}

std::string archive_digest(torch::serialize::InputArchive& archive) {
  Fnv f;
  walk_digest(archive, "", &f);
  char hex[32];
  std::snprintf(hex, sizeof(hex), "%016" PRIx64, f.h);
  return std::string("fnv1a64:") + hex;
}

void verify_archive_digest(torch::serialize::InputArchive& archive, const std::string& path,
                           bool required) {
  c10::IValue stored;
  if (!archive.try_read(kChecksumKey, stored) || !stored.isString()) {
    if (required) {
      throw std::runtime_error(path +
                               ": checkpoint has no integrity checksum (corrupt, or written "
                               "by an older f8net)");
    }
    return;
  }
  if (stored.toStringRef() != archive_digest(archive)) {
    throw std::runtime_error(path + ": checkpoint checksum mismatch (the file is corrupted)");
  }
}

void load_archive_bytes(const std::string& bytes, const std::string& path,
                        torch::serialize::InputArchive* archive) {
  check_zip_container(bytes, path);
  std::istringstream in(bytes);
  archive->load_from(in);
}

}  // namespace f8net::qat::detail
