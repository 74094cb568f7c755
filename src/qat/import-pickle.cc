// read_torch_state_dict (import.h): a restricted unpickler for torch.save zip archives. It knows
// the pickle opcodes torch.save emits and builds only plain data and tensors; any other Python
// object is refused, so a hostile file cannot run code. LibTorch's own pickle_load is not used:
// in 1.13 it turns collections.OrderedDict (every state_dict) into None and lacks SETITEM.
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "f8net/qat/checkpoint.h"
#include "f8net/qat/import.h"
#include "file-io.h"
#include "zip-check.h"

namespace f8net::qat {
namespace {

struct Obj;
using Ref = std::shared_ptr<Obj>;
struct Obj {
  enum Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kTensor };
  Kind kind = kNone;
  int64_t i = 0;
  double f = 0;
  std::string s;           // string, or "module.name" of a global
  std::vector<Ref> items;  // tuple and list items; a dict's keys and values, alternating
  torch::Tensor tensor;
};

Ref make(Obj::Kind kind) {
  auto o = std::make_shared<Obj>();
  o->kind = kind;
  return o;
}

struct PickleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

c10::ScalarType storage_dtype(const std::string& global) {
  static const std::map<std::string, c10::ScalarType> types = {
      {"torch.FloatStorage", c10::kFloat}, {"torch.DoubleStorage", c10::kDouble},
      {"torch.HalfStorage", c10::kHalf},   {"torch.BFloat16Storage", c10::kBFloat16},
      {"torch.LongStorage", c10::kLong},   {"torch.IntStorage", c10::kInt},
      {"torch.ShortStorage", c10::kShort}, {"torch.CharStorage", c10::kChar},
      {"torch.ByteStorage", c10::kByte},   {"torch.BoolStorage", c10::kBool}};
  const auto it = types.find(global);
  if (it == types.end()) throw PickleError("unsupported storage type '" + global + "'");
  return it->second;
}

class Unpickler {
 public:
  Unpickler(const std::string& data, caffe2::serialize::PyTorchStreamReader& zip)
      : p_(data), zip_(zip) {}

  Ref run() {
    // One case per opcode, as the pickle format lists them.
    // clang-format off
    while (true) {
      const uint8_t op = u8();
      switch (op) {
        case 0x80: if (u8() > 5) throw PickleError("unknown pickle protocol"); break;  // PROTO
        case 0x95: take(8); break;                                                 // FRAME
        case '(': marks_.push_back(stack_.size()); break;                          // MARK
        case '}': push(make(Obj::kDict)); break;
        case ']': push(make(Obj::kList)); break;
        case ')': push(make(Obj::kTuple)); break;
        case 'N': push(make(Obj::kNone)); break;
        case 0x88: case 0x89: { Ref b = make(Obj::kBool); b->i = op == 0x88; push(b); break; }
        case 'K': push_int(u8()); break;                                           // BININT1
        case 'M': push_int(le(2)); break;                                          // BININT2
        case 'J': push_int(static_cast<int32_t>(le(4))); break;                    // BININT
        case 0x8a: push_int(long1()); break;                                       // LONG1
        case 'G': push_float(); break;                                             // BINFLOAT
        case 'X': case 'T': case 'B': push_string(le(4)); break;
        case 0x8c: case 'U': case 'C': push_string(u8()); break;
        case 'c': {                                                                // GLOBAL
          std::string module = line(), name = line();
          Ref g = make(Obj::kGlobal);
          g->s = module + "." + name;
          push(g);
          break;
        }
        case 0x93: {                                                               // STACK_GLOBAL
          Ref name = pop(), module = pop();
          if (name->kind != Obj::kString || module->kind != Obj::kString) {
            throw PickleError("malformed STACK_GLOBAL");
          }
          Ref g = make(Obj::kGlobal);
          g->s = module->s + "." + name->s;
          push(g);
          break;
        }
        case 'q': memo_[u8()] = top(); break;                                      // BINPUT
        case 'r': memo_[le(4)] = top(); break;                                     // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;                             // MEMOIZE
        case 'h': push(memo(u8())); break;                                         // BINGET
        case 'j': push(memo(le(4))); break;                                        // LONG_BINGET
        case 't': { Ref t = make(Obj::kTuple); t->items = pop_mark(); push(t); break; }
        case 0x85: case 0x86: case 0x87: {                                         // TUPLE1-3
          Ref t = make(Obj::kTuple);
          t->items.resize(op - 0x84);
          for (size_t k = t->items.size(); k-- > 0;) t->items[k] = pop();
          push(t);
          break;
        }
        case 'a': { Ref v = pop(); expect(top(), Obj::kList)->items.push_back(v); break; }
        case 'e': {                                                                // APPENDS
          std::vector<Ref> v = pop_mark();
          const Ref& list = expect(top(), Obj::kList);
          list->items.insert(list->items.end(), v.begin(), v.end());
          break;
        }
        case 's': {                                                                // SETITEM
          Ref v = pop(), k = pop();
          const Ref& d = expect(top(), Obj::kDict);
          d->items.push_back(k);
          d->items.push_back(v);
          break;
        }
        case 'u': {                                                                // SETITEMS
          std::vector<Ref> kv = pop_mark();
          if (kv.size() % 2 != 0) throw PickleError("odd SETITEMS");
          const Ref& d = expect(top(), Obj::kDict);
          d->items.insert(d->items.end(), kv.begin(), kv.end());
          break;
        }
        case 'R': { Ref args = pop(), fn = pop(); push(call(fn, args)); break; }    // REDUCE
        case 'Q': push(persistent(pop())); break;                                  // BINPERSID
        case 'b': {                                                                // BUILD
          pop();  // the state: only an OrderedDict's attributes (a state_dict's _metadata)
          if (top()->kind != Obj::kDict) throw PickleError("BUILD on an object other than a dict");
          break;
        }
        case '.': return pop();                                                    // STOP
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          throw PickleError(std::string("unsupported pickle opcode ") + hex);
        }
      }
    }
    // clang-format on
  }

 private:
  std::string_view take(size_t n) {
    if (n > p_.size() - pos_) throw PickleError("truncated pickle");
    std::string_view v(p_.data() + pos_, n);
    pos_ += n;
    return v;
  }
  uint8_t u8() { return static_cast<uint8_t>(take(1)[0]); }
  uint64_t le(size_t n) {
    const std::string_view b = take(n);
    uint64_t v = 0;
    for (size_t k = n; k-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[k]);
    return v;
  }
  int64_t long1() {
    const size_t n = u8();
    if (n > 8) throw PickleError("integer wider than 64 bits");
    if (n == 0) return 0;
    uint64_t v = le(n);
    if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  std::string line() {
    const size_t end = p_.find('\n', pos_);
    if (end == std::string::npos) throw PickleError("truncated pickle");
    if (end - pos_ > 256) throw PickleError("malformed GLOBAL");
    std::string s = p_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  void push(Ref r) { stack_.push_back(std::move(r)); }
  void push_int(int64_t v) {
    Ref r = make(Obj::kInt);
    r->i = v;
    push(r);
  }
  void push_float() {
    const std::string_view b = take(8);
    uint64_t bits = 0;
    for (char c : b) bits = (bits << 8) | static_cast<uint8_t>(c);  // big-endian
    Ref r = make(Obj::kFloat);
    std::memcpy(&r->f, &bits, sizeof bits);
    push(r);
  }
  void push_string(uint64_t n) {
    Ref r = make(Obj::kString);
    r->s = std::string(take(n));
    push(r);
  }
  Ref& top() {
    if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size())) {
      throw PickleError("pickle stack underflow");
    }
    return stack_.back();
  }
  Ref pop() {
    Ref r = top();
    stack_.pop_back();
    return r;
  }
  std::vector<Ref> pop_mark() {
    if (marks_.empty()) throw PickleError("no MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Ref> v(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return v;
  }
  Ref memo(uint64_t k) {
    const auto it = memo_.find(k);
    if (it == memo_.end()) throw PickleError("memo entry missing");
    return it->second;
  }
  static const Ref& expect(const Ref& r, Obj::Kind kind) {
    if (r->kind != kind) throw PickleError("malformed pickle (container expected)");
    return r;
  }
  static int64_t to_int(const Ref& r) {
    if (r->kind != Obj::kInt) throw PickleError("integer expected in a tensor description");
    return r->i;
  }
  static std::vector<int64_t> int_tuple(const Ref& r) {
    if (r->kind != Obj::kTuple && r->kind != Obj::kList) throw PickleError("size tuple expected");
    std::vector<int64_t> v;
    for (const Ref& x : r->items) v.push_back(to_int(x));
    return v;
  }

  // ('storage', <torch.XStorage>, key, location, numel): the zip record data/<key>.
  Ref persistent(const Ref& pid) {
    if (pid->kind != Obj::kTuple || pid->items.size() < 5 || pid->items[0]->s != "storage" ||
        pid->items[1]->kind != Obj::kGlobal || pid->items[2]->kind != Obj::kString) {
      throw PickleError("unsupported persistent id (not a tensor storage)");
    }
    const c10::ScalarType dtype = storage_dtype(pid->items[1]->s);
    const std::string& key = pid->items[2]->s;
    const int64_t numel = to_int(pid->items[4]);
    Ref r = make(Obj::kTensor);
    auto it = storages_.find(key);
    if (it == storages_.end()) {
      const std::string record = "data/" + key;
      if (key.empty() || key.find('/') != std::string::npos || !zip_.hasRecord(record)) {
        throw PickleError("storage '" + key + "' is missing from the archive");
      }
      auto [ptr, size] = zip_.getRecord(record);
      const int64_t item = static_cast<int64_t>(c10::elementSize(dtype));
      if (numel < 0 || static_cast<uint64_t>(numel) * static_cast<uint64_t>(item) != size) {
        throw PickleError("storage '" + key + "' has " + std::to_string(size) + " bytes, not " +
                          std::to_string(numel) + " elements");
      }
      torch::Tensor t = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
      if (size > 0) std::memcpy(t.data_ptr(), ptr.get(), size);
      it = storages_.emplace(key, t).first;
    }
    r->tensor = it->second;
    return r;
  }

  // storage.as_strided(size, stride, offset) after a bounds check, copied contiguous.
  static Ref rebuild_tensor(const std::vector<Ref>& a) {
    if (a.size() < 4 || a[0]->kind != Obj::kTensor) throw PickleError("malformed tensor");
    const torch::Tensor& storage = a[0]->tensor;
    const int64_t offset = to_int(a[1]);
    const std::vector<int64_t> size = int_tuple(a[2]), stride = int_tuple(a[3]);
    if (size.size() != stride.size() || size.size() > 8 || offset < 0) {
      throw PickleError("malformed tensor shape");
    }
    int64_t last = offset, count = 1;
    for (size_t d = 0; d < size.size(); ++d) {
      int64_t span = 0;
      if (size[d] < 0 || stride[d] < 0 || __builtin_mul_overflow(count, size[d], &count) ||
          (size[d] > 0 && (__builtin_mul_overflow(size[d] - 1, stride[d], &span) ||
                           __builtin_add_overflow(last, span, &last)))) {
        throw PickleError("tensor sizes or strides out of range");
      }
    }
    if (count > 0 && last >= storage.numel()) throw PickleError("tensor outside its storage");
    Ref r = make(Obj::kTensor);
    r->tensor = count == 0
                    ? torch::empty(size, storage.options())
                    : storage.as_strided(size, stride, offset).clone(at::MemoryFormat::Contiguous);
    return r;
  }

  Ref call(const Ref& fn, const Ref& args) {
    if (fn->kind != Obj::kGlobal || args->kind != Obj::kTuple)
      throw PickleError("malformed REDUCE");
    const std::vector<Ref>& a = args->items;
    if (fn->s == "collections.OrderedDict") {
      Ref d = make(Obj::kDict);
      if (!a.empty()) {
        for (const Ref& pair : expect(a[0], Obj::kList)->items) {
          if (pair->kind != Obj::kTuple || pair->items.size() != 2) throw PickleError("bad pair");
          d->items.push_back(pair->items[0]);
          d->items.push_back(pair->items[1]);
        }
      }
      return d;
    }
    if (fn->s == "torch._utils._rebuild_tensor_v2" || fn->s == "torch._utils._rebuild_tensor") {
      return rebuild_tensor(a);
    }
    if (fn->s == "torch._utils._rebuild_parameter") {
      if (a.empty() || a[0]->kind != Obj::kTensor) throw PickleError("malformed parameter");
      return a[0];
    }
    throw PickleError("unsupported object '" + fn->s +
                      "' (only state dicts of tensors and plain values are read)");
  }

  const std::string& p_;
  size_t pos_ = 0;
  caffe2::serialize::PyTorchStreamReader& zip_;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;
  std::map<std::string, torch::Tensor> storages_;
};

// A dict with string keys whose values are all tensors, or a checkpoint dict wrapping one.
StateDict to_state_dict(const Ref& root) {
  if (root->kind != Obj::kDict) throw PickleError("the pickle is not a dict (a state_dict)");
  auto collect = [](const Ref& dict, StateDict& sd) {
    for (size_t k = 0; k + 1 < dict->items.size(); k += 2) {
      const Ref& key = dict->items[k];
      if (key->kind != Obj::kString) throw PickleError("a state_dict key is not a string");
      const Ref& value = dict->items[k + 1];
      if (value->kind == Obj::kTensor) {
        sd.tensors.emplace_back(key->s, value->tensor);
      } else {
        sd.other_keys.push_back(key->s);
      }
    }
  };
  StateDict sd;
  collect(root, sd);
  if (sd.tensors.empty()) {
    for (const char* wrap : {"state_dict", "model", "model_state_dict"}) {
      for (size_t k = 0; k + 1 < root->items.size(); k += 2) {
        if (root->items[k]->s == wrap && root->items[k + 1]->kind == Obj::kDict) {
          StateDict inner;
          collect(root->items[k + 1], inner);
          inner.unwrapped = wrap;
          return inner;
        }
      }
    }
    throw PickleError("the dict holds no tensors");
  }
  return sd;
}

}  // namespace

StateDict read_torch_state_dict(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x80) {
    throw std::runtime_error(path +
                             ": legacy torch.save format (PyTorch < 1.6 or "
                             "_use_new_zipfile_serialization=False) is not read: re-save it "
                             "with torch.save(torch.load(f), f)");
  }
  if (bytes.size() < 4 || bytes.compare(0, 4, "PK\x03\x04") != 0) {
    throw std::runtime_error(path + ": not a torch.save file (not a zip archive)");
  }
  // The container, pickle lengths and storage sizes first: LibTorch's zip reader trusts them.
  detail::check_zip_container(bytes, path, "a readable torch.save file");
  try {
    std::istringstream in(bytes);
    caffe2::serialize::PyTorchStreamReader zip(&in);
    if (zip.hasRecord("byteorder")) {
      auto [ptr, size] = zip.getRecord("byteorder");
      if (std::string(static_cast<const char*>(ptr.get()), size) != "little") {
        throw PickleError("big-endian tensors are not read");
      }
    }
    if (!zip.hasRecord("data.pkl")) throw PickleError("no data.pkl: not a torch.save archive");
    auto [ptr, size] = zip.getRecord("data.pkl");
    const std::string pickle(static_cast<const char*>(ptr.get()), size);
    Unpickler u(pickle, zip);
    return to_state_dict(u.run());
  } catch (const PickleError& e) {
    throw std::runtime_error(path + ": not a readable torch.save state dict (" + e.what() + ")");
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not a readable torch.save file (" + torch_error_line(e) +
                             ")");
  }
}

}  // namespace f8net::qat
