// A scan of a pickle as LibTorch's unpickler would read it (pickle-check.h): the opcodes of
// protocols 0-4, lengths, memo indices and storage references checked, nothing built.
#include "pickle-check.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace f8net::qat::detail {
namespace {

[[noreturn]] void fail(const std::string& why) { throw PickleError(why); }

// Item size of a pickled storage class ("torch.FloatStorage"), 0 if unknown.
uint64_t storage_item_size(const std::string& cls) {
  static const std::map<std::string, uint64_t> sizes = {
      {"torch.FloatStorage", 4},         {"torch.DoubleStorage", 8},
      {"torch.HalfStorage", 2},          {"torch.BFloat16Storage", 2},
      {"torch.LongStorage", 8},          {"torch.IntStorage", 4},
      {"torch.ShortStorage", 2},         {"torch.CharStorage", 1},
      {"torch.ByteStorage", 1},          {"torch.BoolStorage", 1},
      {"torch.QInt8Storage", 1},         {"torch.QUInt8Storage", 1},
      {"torch.QInt32Storage", 4},        {"torch.ComplexFloatStorage", 8},
      {"torch.ComplexDoubleStorage", 16}};
  const auto it = sizes.find(cls);
  return it == sizes.end() ? 0 : it->second;
}

// What the scan knows of a pickled value: enough to recognise a storage reference, the tuple
// ('storage', torch.<T>Storage, key, location, numel) that BINPERSID turns into a tensor storage.
struct Token {
  enum Kind { kOther, kStr, kInt, kGlobal } kind = kOther;
  std::string s;
  int64_t i = 0;
};

}  // namespace

std::string ascii_lower(std::string s) {
  for (char& ch : s) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return s;
}

void check_pickle(const std::string& name, const std::string& p,
                  const std::map<std::string, uint64_t>& record_sizes) {
  const std::string storage_dir = name.substr(0, name.size() - 4) + "/";  // a/data.pkl -> a/data/
  const uint64_t n = p.size();
  uint64_t at = 0, memo = 0;
  std::vector<std::vector<Token>> marks;  // the values pushed since each open MARK
  std::map<uint64_t, Token> memo_tokens;
  Token last;                // the value most recently pushed (what a PUT memoizes)
  std::vector<Token> tuple;  // the items of the tuple just built, for a BINPERSID after it
  bool tuple_on_top = false;
  auto need = [&](uint64_t k) {
    if (k > n - at) fail("pickle truncated");
  };
  auto le = [&](int k) {
    need(static_cast<uint64_t>(k));
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[at + i]);
    at += static_cast<uint64_t>(k);
    return v;
  };
  auto line = [&] {
    const auto nl = p.find('\n', at);
    if (nl == std::string::npos) fail("pickle truncated");
    const std::string s = p.substr(at, nl - at);
    at = nl + 1;
    return s;
  };
  auto bytes = [&](uint64_t len) {
    need(len);
    const std::string s = p.substr(at, len);
    at += len;
    return s;
  };
  // A length-prefixed string (kept: the storage check reads it) or bytes (skipped).
  auto counted = [&](int k, bool text) {
    const uint64_t len = le(k);
    need(len);
    Token t;
    if (text) {
      t.kind = Token::kStr;
      t.s = p.substr(at, len);
    }
    at += len;
    return t;
  };
  auto put = [&](uint64_t id) {
    if (id > memo) fail("pickle memo index out of order");
    if (id == memo) ++memo;
    memo_tokens[id] = last;
  };
  auto pop = [&](int k) {
    for (; k > 0 && !marks.empty() && !marks.back().empty(); --k) marks.back().pop_back();
  };
  auto push = [&](Token t) {
    last = t;
    if (!marks.empty()) marks.back().push_back(std::move(t));
  };
  auto close_mark = [&] {
    if (marks.empty()) fail("pickle closes a MARK it never opened");
    std::vector<Token> items = std::move(marks.back());
    marks.pop_back();
    return items;
  };
  auto check_storage = [&] {
    if (!tuple_on_top || tuple.size() != 5 || tuple[0].kind != Token::kStr ||
        tuple[0].s != "storage" || tuple[1].kind != Token::kGlobal ||
        tuple[2].kind != Token::kStr || tuple[4].kind != Token::kInt) {
      fail("unrecognised persistent reference in the pickle");
    }
    const uint64_t item = storage_item_size(tuple[1].s);
    if (item == 0) fail("unknown storage type " + tuple[1].s);
    const auto rec = record_sizes.find(ascii_lower(storage_dir + tuple[2].s));
    if (rec == record_sizes.end()) fail("storage '" + tuple[2].s + "' has no data record");
    const int64_t numel = tuple[4].i;
    if (numel < 0 || static_cast<uint64_t>(numel) > rec->second / item) {
      fail("storage '" + tuple[2].s + "' is larger than its data record");
    }
  };
  while (at < n) {
    const auto op = static_cast<unsigned char>(p[at++]);
    const bool after_tuple = tuple_on_top;
    tuple_on_top = false;
    Token t;
    switch (op) {
      case '.':  // STOP
        return;
      case '(':
        marks.emplace_back();
        break;
      case 't':
        tuple = close_mark();
        push(Token{});
        tuple_on_top = true;
        break;
      case 'l':
      case 'd':
      case 'o':
      case 0x91:  // LIST DICT OBJ FROZENSET
        close_mark();
        push(Token{});
        break;
      case 'i':  // INST module\nname\n
        line();
        line();
        close_mark();
        push(Token{});
        break;
      case 'e':
      case 'u':
      case 0x90:
      case '1':  // APPENDS SETITEMS ADDITEMS POP_MARK
        close_mark();
        last = Token{};  // the top is now the container (or unknown)
        break;
      case 'q':
      case 'r':
      case 0x94:  // BINPUT LONG_BINPUT MEMOIZE: no stack change
        put(op == 'q' ? le(1) : op == 'r' ? le(4) : memo);
        tuple_on_top = after_tuple;
        break;
      case 'p':
        put(std::strtoull(line().c_str(), nullptr, 10));
        tuple_on_top = after_tuple;
        break;
      case 'Q':  // BINPERSID
        tuple_on_top = after_tuple;
        check_storage();
        tuple_on_top = false;
        pop(1);
        push(Token{});
        break;
      case 'h':
      case 'j':
      case 'g': {  // BINGET LONG_BINGET GET
        const uint64_t id = op == 'h'   ? le(1)
                            : op == 'j' ? le(4)
                                        : std::strtoull(line().c_str(), nullptr, 10);
        const auto it = memo_tokens.find(id);
        if (it == memo_tokens.end()) fail("pickle reads a memo entry never written");
        push(it->second);
        break;
      }
      case '0':
        pop(1);
        last = Token{};
        break;
      case 0x85:
      case 0x86:
      case 0x87:  // TUPLE1..3
        pop(op - 0x84);
        push(Token{});
        break;
      // REDUCE BUILD APPEND NEWOBJ STACK_GLOBAL
      case 'R':
      case 'b':
      case 'a':
      case 0x81:
      case 0x93:
        pop(2);
        push(Token{});
        break;
      case 's':
      case 0x92:  // SETITEM NEWOBJ_EX
        pop(3);
        push(Token{});
        break;
      case '2':
      case 'N':
      case '}':
      case ']':
      case ')':
      case 0x88:
      case 0x89:
      case 0x8f:
        push(Token{});
        break;
      case 'K':
      case 'M':
      case 'J': {
        const int k = op == 'K' ? 1 : op == 'M' ? 2 : 4;
        const uint64_t v = le(k);
        t.kind = Token::kInt;
        t.i = k == 4 ? static_cast<int32_t>(static_cast<uint32_t>(v)) : static_cast<int64_t>(v);
        push(t);
        break;
      }
      case 0x8a: {  // LONG1: little-endian two's complement of up to 255 bytes
        const std::string v = bytes(le(1));
        if (v.size() <= 8) {
          uint64_t u = 0;
          for (size_t i = v.size(); i-- > 0;) u = u << 8 | static_cast<unsigned char>(v[i]);
          if (!v.empty() && v.size() < 8 && (static_cast<unsigned char>(v.back()) & 0x80)) {
            u |= ~uint64_t{0} << (8 * v.size());
          }
          t.kind = Token::kInt;
          t.i = static_cast<int64_t>(u);
        }
        push(t);
        break;
      }
      case 'X':
      case 'T':
      case 'U':
      case 0x8c:
      case 0x8d:  // strings: 4/4/1/1/8-byte lengths
        push(counted(op == 'U' || op == 0x8c ? 1 : op == 0x8d ? 8 : 4, true));
        break;
      case 'B':
      case 0x8b:
      case 'C':
      case 0x8e:  // bytes, LONG4: 4/4/1/8-byte lengths
        push(counted(op == 'C' ? 1 : op == 0x8e ? 8 : 4, false));
        break;
      case 'c': {  // GLOBAL module\nname\n
        const std::string module = line();
        t.kind = Token::kGlobal;
        t.s = module + "." + line();
        push(t);
        break;
      }
      case 'F':
      case 'I':
      case 'L':
      case 'S':
      case 'V':
      case 'P':
        line();
        push(Token{});
        break;
      case 'G':
        le(8);
        push(Token{});
        break;
      case 0x80:
      case 0x82:  // PROTO EXT1
        le(1);
        if (op == 0x82) push(Token{});
        break;
      case 0x83:
        le(2);
        push(Token{});
        break;
      case 0x84:
        le(4);
        push(Token{});
        break;
      case 0x95:  // FRAME
        le(8);
        break;
      default:
        fail("unknown pickle opcode");
    }
  }
  fail("pickle without STOP");
}

}  // namespace f8net::qat::detail
