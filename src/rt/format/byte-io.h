// Little-endian byte writer and bounds-checked reader for the .f8 format. The reader never reads
// past its buffer: a short read sets a sticky failure flag and returns zeros, so parsers can read
// a whole record and check ok() once. Independent of the host's byte order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace f8net::rt::format {

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>* out) : out_(out) {}
  size_t size() const { return out_->size(); }
  void u8(uint8_t v) { out_->push_back(v); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_->push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_->push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(bits);
  }
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_->insert(out_->end(), b, b + n);
  }
  void string(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  void zeros(size_t n) { out_->insert(out_->end(), n, 0); }
  void pad_to(size_t n) {
    if (out_->size() < n) zeros(n - out_->size());
  }
  // Overwrites 8 bytes at `at` (already written).
  void patch_u64(size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) (*out_)[at + i] = static_cast<uint8_t>(v >> (8 * i));
  }

 private:
  std::vector<uint8_t>* out_;
};

inline uint32_t load_u32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
inline uint64_t load_u64(const uint8_t* p) {
  return uint64_t{load_u32(p)} | uint64_t{load_u32(p + 4)} << 32;
}

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool ok() const { return ok_; }
  size_t remaining() const { return size_ - pos_; }
  bool at_end() const { return pos_ == size_; }

  uint32_t u32() { return take(4) ? load_u32(data_ + pos_ - 4) : 0; }
  uint64_t u64() { return take(8) ? load_u64(data_ + pos_ - 8) : 0; }
  int32_t i32() { return static_cast<int32_t>(u32()); }
  float f32() {
    const uint32_t bits = u32();
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  // A u32 length then that many bytes; fails if the length exceeds `max_len` or the buffer.
  bool string(std::string* s, size_t max_len) {
    const uint32_t n = u32();
    if (!ok_ || n > max_len || n > remaining()) return ok_ = false;
    s->assign(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return true;
  }

 private:
  bool take(size_t n) {
    if (!ok_ || n > size_ - pos_) return ok_ = false;
    pos_ += n;
    return true;
  }
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace f8net::rt::format
