// The restricted torch.save reader (import-pickle.cc) on archives built here byte by byte (no
// Python): a state dict reads back with its values and strides; unsafe objects, tensors outside
// their storage, storages of the wrong size, truncated pickles and non-dicts are refused.
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#include "f8net/qat/import.h"
#include "qat/data-fixtures.h"

namespace f8net::qat {
namespace {

// Pickle protocol-2 bytes.
struct Pickle {
  std::string b = "\x80\x02";
  Pickle& raw(const std::string& s) {
    b += s;
    return *this;
  }
  Pickle& str(const std::string& s) {
    b += 'X';
    for (int k = 0; k < 4; ++k) b += static_cast<char>((s.size() >> (8 * k)) & 0xff);
    b += s;
    return *this;
  }
  Pickle& int1(int v) {
    b += 'K';
    b += static_cast<char>(v);
    return *this;
  }
  Pickle& global(const std::string& module, const std::string& name) {
    b += "c" + module + "\n" + name + "\n";
    return *this;
  }
  // _rebuild_tensor_v2(storage(key, numel), offset, size, stride, False, OrderedDict()).
  Pickle& tensor(const std::string& key, int numel, int offset, std::vector<int> size,
                 std::vector<int> stride) {
    global("torch._utils", "_rebuild_tensor_v2").raw("(");
    raw("(").str("storage").global("torch", "FloatStorage").str(key).str("cpu").int1(numel);
    raw("tQ").int1(offset);
    raw("(");
    for (int s : size) int1(s);
    raw("t(");
    for (int s : stride) int1(s);
    raw("t\x89").global("collections", "OrderedDict").raw(")R");
    return raw("tR");
  }
};

// A torch.save-style zip with data.pkl and float storages data/<key>.
std::string write_archive(const f8net::testing::TempDir& dir, const std::string& pickle,
                          const std::vector<std::pair<std::string, std::vector<float>>>& storages) {
  const std::string path = dir.path() + "/w.pth";
  std::ofstream out(path, std::ios::binary);
  caffe2::serialize::PyTorchStreamWriter w([&](const void* p, size_t n) {
    out.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    return n;
  });
  w.writeRecord("data.pkl", pickle.data(), pickle.size());
  for (const auto& [key, values] : storages) {
    w.writeRecord("data/" + key, values.data(), values.size() * sizeof(float));
  }
  w.writeEndOfFile();
  return path;
}

std::string error_of(const std::string& path) {
  try {
    read_torch_state_dict(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(ImportPickle, ReadsAnOrderedDictOfTensorsWithStrides) {
  f8net::testing::TempDir dir;
  Pickle p;
  p.global("collections", "OrderedDict").raw(")R").raw(std::string("q\0(", 3));  // BINPUT 0
  p.str("a").tensor("0", 4, 0, {2, 2}, {2, 1});
  p.str("b.t").tensor("0", 4, 0, {2, 2}, {1, 2});  // the transpose, sharing the storage
  p.str("c").tensor("1", 3, 1, {2}, {1});
  p.raw("u}b.");  // SETITEMS, then BUILD with an empty state (a state_dict's _metadata)
  const std::string path = write_archive(dir, p.b, {{"0", {1, 2, 3, 4}}, {"1", {7, 8, 9}}});
  const StateDict sd = read_torch_state_dict(path);
  ASSERT_EQ(sd.tensors.size(), 3u);
  EXPECT_EQ(sd.tensors[0].first, "a");
  EXPECT_TRUE(torch::equal(sd.tensors[0].second, torch::tensor({{1.f, 2.f}, {3.f, 4.f}})));
  EXPECT_TRUE(torch::equal(sd.tensors[1].second, torch::tensor({{1.f, 3.f}, {2.f, 4.f}})));
  EXPECT_TRUE(torch::equal(sd.tensors[2].second, torch::tensor({8.f, 9.f})));
  EXPECT_TRUE(sd.tensors[1].second.is_contiguous());
}

TEST(ImportPickle, RefusesUnsafeObjectsAndBadTensors) {
  f8net::testing::TempDir dir;
  auto dict_with = [](const std::function<void(Pickle&)>& value) {
    Pickle p;
    p.raw("}(").str("w");
    value(p);
    p.raw("u.");
    return p.b;
  };
  // A pickle that would run os.system in Python.
  std::string path = write_archive(dir, dict_with([](Pickle& p) {
                                     p.global("os", "system").raw("(").str("echo hacked").raw("tR");
                                   }),
                                   {});
  EXPECT_NE(error_of(path).find("unsupported object 'os.system'"), std::string::npos)
      << error_of(path);
  // A tensor reaching past its storage.
  path = write_archive(dir, dict_with([](Pickle& p) {
                         p.tensor("0", 4, 0, {3, 2}, {2, 1});
                       }),
                       {{"0", {1, 2, 3, 4}}});
  EXPECT_NE(error_of(path).find("outside its storage"), std::string::npos) << error_of(path);
  // A storage record shorter than its declared element count (refused by the container check,
  // zip-check.h, before the unpickler runs).
  path = write_archive(dir, dict_with([](Pickle& p) { p.tensor("0", 8, 0, {2}, {1}); }),
                       {{"0", {1, 2, 3, 4}}});
  EXPECT_NE(error_of(path).find("larger than its data record"), std::string::npos)
      << error_of(path);
  // A storage that is not in the archive.
  path = write_archive(dir, dict_with([](Pickle& p) { p.tensor("9", 4, 0, {2}, {1}); }),
                       {{"0", {1, 2, 3, 4}}});
  EXPECT_NE(error_of(path).find("has no data record"), std::string::npos) << error_of(path);
  // Truncated, not a dict, a non-string key.
  const std::string good = dict_with([](Pickle& p) { p.tensor("0", 4, 0, {4}, {1}); });
  path = write_archive(dir, good.substr(0, good.size() / 2), {{"0", {1, 2, 3, 4}}});
  EXPECT_NE(error_of(path).find("truncated"), std::string::npos) << error_of(path);
  path = write_archive(dir, Pickle().raw("](").int1(1).raw("e.").b, {});
  EXPECT_NE(error_of(path).find("not a dict"), std::string::npos) << error_of(path);
  path = write_archive(dir, Pickle().raw("}(").int1(1).int1(2).raw("u.").b, {});
  EXPECT_NE(error_of(path).find("not a string"), std::string::npos) << error_of(path);
  // Not a zip at all; every message names the file.
  f8net::testing::write_bytes(dir.path() + "/x.pth", {'h', 'i'}, false);
  EXPECT_NE(error_of(dir.path() + "/x.pth").find(dir.path() + "/x.pth: not a torch.save file"),
            std::string::npos);
}

}  // namespace
}  // namespace f8net::qat
