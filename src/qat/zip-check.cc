// Implementation of zip-check.h: a reader of the zip central directory (PKWARE APPNOTE 4.3, the
// subset LibTorch's writer produces), every offset and size checked against the file before use:
// an offset is added to only after it has been read inside the file, so no sum overflows.
#include "zip-check.h"

#include <zlib.h>

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <vector>

#include "pickle-check.h"

namespace f8net::qat::detail {
namespace {

constexpr uint32_t kEndOfCentralDir = 0x06054b50;
constexpr uint32_t kZip64End = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint64_t kMaxRecords = 1u << 20;
// LibTorch deflates its TorchScript sources and small pickles; tensor data is always stored.
// Compressed records together may inflate to at most this much.
constexpr uint64_t kMaxInflatedBytes = uint64_t{64} << 20;

class Bytes {
 public:
  Bytes(const std::string& s, const std::string& path, const std::string& kind)
      : s_(s), path_(path), kind_(kind) {}
  uint64_t size() const { return s_.size(); }
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error(path_ + ": not " + kind_ + " (" + why + ")");
  }
  uint64_t le(uint64_t at, int n) const {
    if (at > s_.size() || static_cast<uint64_t>(n) > s_.size() - at) fail("truncated zip");
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(s_[at + i]);
    return v;
  }
  std::string str(uint64_t at, uint64_t n) const {
    if (at > s_.size() || n > s_.size() - at) fail("truncated zip");
    return s_.substr(at, n);
  }

 private:
  const std::string& s_;
  const std::string& path_;
  const std::string& kind_;
};

struct Directory {
  uint64_t entries = 0, offset = 0, size = 0;
};

Directory find_directory(const Bytes& b) {
  if (b.size() < 22) b.fail("too short for a zip");
  // The end record is the last 22 bytes plus a comment of up to 65535 bytes.
  const uint64_t lowest = b.size() > 22 + 65535 ? b.size() - 22 - 65535 : 0;
  for (uint64_t at = b.size() - 22 + 1; at-- > lowest;) {
    if (b.le(at, 4) != kEndOfCentralDir || at + 22 + b.le(at + 20, 2) != b.size()) continue;
    Directory d{b.le(at + 10, 2), b.le(at + 16, 4), b.le(at + 12, 4)};
    if (b.le(at + 8, 2) != d.entries) b.fail("multi-disk zip");
    // LibTorch's reader (miniz) takes the zip64 record's values whenever its locator precedes
    // the end record, escaped or not: read what it reads, and refuse a 32-bit field that says
    // otherwise (else a 32-bit "0 records" would hide records from this check).
    if (at >= 20 && b.le(at - 20, 4) == kZip64Locator) {
      const uint64_t z = b.le(at - 20 + 8, 8);
      if (b.le(z, 4) != kZip64End) b.fail("bad zip64 end record");
      const Directory d64{b.le(z + 32, 8), b.le(z + 48, 8), b.le(z + 40, 8)};
      if (b.le(z + 24, 8) != d64.entries) b.fail("multi-disk zip");
      if ((d.entries != 0xffff && d.entries != d64.entries) ||
          (d.offset != 0xffffffff && d.offset != d64.offset) ||
          (d.size != 0xffffffff && d.size != d64.size)) {
        b.fail("zip end records disagree");
      }
      d = d64;
    } else if (d.entries == 0xffff || d.offset == 0xffffffff || d.size == 0xffffffff) {
      b.fail("zip64 end record missing");
    }
    if (d.offset > b.size() || d.size > b.size() - d.offset) {
      b.fail("central directory outside the file");
    }
    if (d.entries > kMaxRecords) b.fail("more than 2^20 records");
    return d;
  }
  b.fail("no zip end record");
}

bool is_ident(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (const char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// An attribute type as LibTorch's archive writer declares it: a basic type or a class of the
// archive (__torch__.a.b...).
bool is_type(const std::string& s) {
  if (s == "Tensor" || s == "str" || s == "int" || s == "float" || s == "bool") return true;
  if (s.rfind("__torch__.", 0) != 0) return false;
  size_t at = 10;
  while (true) {
    const size_t dot = s.find('.', at);
    if (!is_ident(s.substr(at, dot == std::string::npos ? std::string::npos : dot - at))) {
      return false;
    }
    if (dot == std::string::npos) return true;
    at = dot + 1;
  }
}

// A quoted attribute name: printable, without quotes or backslashes.
bool is_quoted_name(const std::string& s, size_t* at) {
  if (*at >= s.size() || s[*at] != '"') return false;
  size_t i = *at + 1;
  while (i < s.size() && s[i] != '"') {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
    ++i;
  }
  if (i >= s.size()) return false;
  *at = i + 1;
  return true;
}

// `  __parameters__ = ["a", "b", ]` (the writer's exact form, trailing comma included).
bool is_name_list(const std::string& line, const std::string& head) {
  if (line.rfind(head, 0) != 0) return false;
  size_t at = head.size();
  while (at < line.size() && line[at] == '"') {
    if (!is_quoted_name(line, &at) || line.compare(at, 2, ", ") != 0) return false;
    at += 2;
  }
  return line.compare(at, std::string::npos, "]") == 0;
}

// One line of a TorchScript source written by LibTorch's archive writer: class headers and
// attribute declarations only. Anything else (a method, an expression, a constant) is refused:
// LibTorch would compile it, run a __setstate__, and its parser itself crashes on odd input.
bool is_declaration(const std::string& line) {
  if (line.empty()) return true;
  if (line.rfind("class ", 0) == 0) {
    const size_t paren = line.find('(');
    return paren != std::string::npos && is_ident(line.substr(6, paren - 6)) &&
           line.compare(paren, std::string::npos, "(Module):") == 0;
  }
  if (line.rfind("  ", 0) != 0) return false;
  if (is_name_list(line, "  __parameters__ = [") || is_name_list(line, "  __buffers__ = [")) {
    return true;
  }
  if (line == "  __annotations__ = []") return true;
  const std::string ann = "  __annotations__[";
  if (line.rfind(ann, 0) == 0) {
    size_t at = ann.size();
    return is_quoted_name(line, &at) && line.compare(at, 4, "] = ") == 0 &&
           is_type(line.substr(at + 4));
  }
  const size_t colon = line.find(" : ");
  return colon != std::string::npos && is_ident(line.substr(2, colon - 2)) &&
         is_type(line.substr(colon + 3));
}

void check_source(const Bytes& b, const std::string& name, const std::string& text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (!is_declaration(text.substr(start, end - start))) {
      b.fail("record '" + name + "' holds code, which f8net archives never do");
    }
    start = end + 1;
  }
}

// The `size` bytes that the raw deflate stream at `at` (`packed` bytes) inflates to, exactly.
std::string inflate_record(const Bytes& b, const std::string& name, uint64_t at, uint64_t packed,
                           uint64_t size) {
  const std::string in = b.str(at, packed);
  std::string out(size, '\0');
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) b.fail("zlib failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const uint64_t produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != size) {
    b.fail("record '" + name + "' does not inflate to its declared size");
  }
  return out;
}

}  // namespace

void check_zip_container(const std::string& bytes, const std::string& path,
                         const std::string& kind) {
  const Bytes b(bytes, path, kind);
  const Directory d = find_directory(b);
  struct Record {
    std::string name;
    uint64_t method, data, packed, size;
  };
  std::vector<Record> records;
  std::map<std::string, uint64_t> record_sizes;
  uint64_t at = d.offset, inflated = 0;
  for (uint64_t e = 0; e < d.entries; ++e) {
    if (b.le(at, 4) != kCentralHeader) b.fail("bad central directory entry");
    const uint64_t flags = b.le(at + 8, 2), method = b.le(at + 10, 2);
    uint64_t packed = b.le(at + 20, 4), size = b.le(at + 24, 4), local = b.le(at + 42, 4);
    const uint64_t name_len = b.le(at + 28, 2), extra_len = b.le(at + 30, 2),
                   comment_len = b.le(at + 32, 2);
    const std::string name = b.str(at + 46, name_len);
    // Zip64 sizes and offset, in this order, for each field that reads 0xffffffff.
    for (uint64_t x = at + 46 + name_len, x_end = x + extra_len; x + 4 <= x_end;) {
      const uint64_t id = b.le(x, 2), len = b.le(x + 2, 2);
      if (x + 4 + len > x_end) b.fail("bad zip extra field");
      if (id == 1) {
        uint64_t p = x + 4;
        for (uint64_t* field : {&size, &packed, &local}) {
          if (*field != 0xffffffff) continue;
          if (p + 8 > x + 4 + len) b.fail("bad zip64 extra field");
          *field = b.le(p, 8);
          p += 8;
        }
      }
      x += 4 + len;
    }
    if ((flags & 1) != 0 || (method != 0 && method != 8) || (method == 0 && packed != size)) {
      b.fail("record '" + name + "' is encrypted or uses an unknown compression");
    }
    if (method == 8) {
      if (size > kMaxInflatedBytes - inflated) {
        b.fail("compressed records inflate to more than 64 MiB");
      }
      inflated += size;
    }
    // LibTorch's zip reader (miniz without MZ_ZIP_FLAG_CASE_SENSITIVE) finds records
    // case-insensitively: "data.pkL" is read as data.pkl, so names are compared, and pickles and
    // sources recognised, in lower case (found by fuzz_checkpoint: an unchecked "data.pkL"
    // declared a 1.4 GB storage).
    const std::string key = ascii_lower(name);
    if (record_sizes.count(key)) b.fail("record '" + name + "' appears twice (names ignore case)");
    if (b.le(local, 4) != kLocalHeader) b.fail("bad local header of '" + name + "'");
    const uint64_t data = local + 30 + b.le(local + 26, 2) + b.le(local + 28, 2);
    if (data > d.offset || packed > d.offset - data) {
      b.fail("record '" + name + "' outside the file");
    }
    records.push_back(Record{name, method, data, packed, size});
    record_sizes[key] = size;
    at += 46 + name_len + extra_len + comment_len;
  }
  for (const Record& r : records) {
    const std::string& name = r.name;
    const std::string key = ascii_lower(name);
    auto ends_with = [&](const char* tail) {
      const size_t k = std::strlen(tail);
      return key.size() >= k && key.compare(key.size() - k, k, tail) == 0;
    };
    const bool in_code = key.rfind("code/", 0) == 0 || key.find("/code/") != std::string::npos;
    const bool source = in_code && ends_with(".py"), pickle = ends_with(".pkl");
    if (!source && !pickle) continue;
    const std::string text =
        r.method == 8 ? inflate_record(b, name, r.data, r.packed, r.size) : b.str(r.data, r.size);
    if (source) check_source(b, name, text);
    if (pickle) {
      try {
        check_pickle(name, text, record_sizes);
      } catch (const PickleError& e) {
        b.fail("record '" + name + "': " + e.what());
      }
    }
  }
}

}  // namespace f8net::qat::detail
