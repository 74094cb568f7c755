// Test harness for the ONNX exporter: writes a model and input codes to a temp folder, runs the
// ONNX checker (python3-onnx) and ONNX Runtime (tools/onnx/ort-run.js on onnxruntime-node) as
// subprocesses, and compares ORT's float logits * 2^FL with f8net's int32 logits bit for bit.
// Paths come from CMake (F8NET_NODE, F8NET_ORT_RUN_JS, F8NET_PYTHON_ONNX).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "f8net/rt/interpreter.h"
#include "f8net/rt/model.h"
#include "f8net/rt/onnx.h"

namespace f8net::testing {

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A private folder for one test process, removed when the process exits.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/f8net-onnx-test-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    path = d ? d : "/tmp";
  }
  ~TempDir() {
    if (path != "/tmp") (void)std::system(("rm -rf " + shell_quote(path)).c_str());
  }
};
inline const std::string& temp_dir() {
  static const TempDir dir;
  return dir.path;
}

// Whether an atomic write of `file` left no temporary file beside it (rt::write_file_atomic names
// them ".<name>.tmp-XXXXXX").
inline bool no_temporary_left(const std::string& file) {
  const std::filesystem::path p(file);
  const std::string prefix = "." + p.filename().string() + ".tmp-";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(p.parent_path(), ec)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) return false;
  }
  return !ec;
}

// Runs `cmd`, returns its exit status; stdout+stderr go to `log`.
inline int run_command(const std::string& cmd, std::string* log) {
  const std::string full = cmd + " 2>&1";
  std::FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  log->clear();
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) log->append(buf, n);
  const int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// onnx.checker.check_model(full_check=True) on `path`.
inline void expect_checker_accepts(const std::string& path) {
  std::string log;
  const int rc =
      run_command(std::string(F8NET_PYTHON_ONNX) +
                      " -c 'import onnx, sys; "
                      "onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)' " +
                      shell_quote(path),
                  &log);
  EXPECT_EQ(rc, 0) << "onnx.checker rejects " << path << ":\n" << log;
}

// Random codes for `n` images plus an all-minimum and an all-maximum image.
inline std::vector<uint8_t> random_codes(const rt::ModelDef& m, int n, uint64_t seed) {
  const bool s = m.input.dtype == rt::DType::kInt8;
  const size_t per = static_cast<size_t>(m.input.shape.elements());
  std::vector<uint8_t> codes(per * static_cast<size_t>(n + 2));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> d(s ? -127 : 0, s ? 127 : 255);
  for (size_t i = 0; i < per * static_cast<size_t>(n); ++i) {
    codes[i] = static_cast<uint8_t>(static_cast<int8_t>(d(rng)));
  }
  for (size_t i = 0; i < per; ++i) {
    codes[per * static_cast<size_t>(n) + i] = s ? static_cast<uint8_t>(int8_t{-127}) : 0;
    codes[per * static_cast<size_t>(n + 1) + i] = s ? 127 : 255;
  }
  return codes;
}

struct Logits {
  std::vector<int32_t> values;  // images x channels
  std::vector<int32_t> fl;      // per output element of one image (its channel's FL)
  int32_t channels = 0;         // output elements per image
};

inline Logits f8net_logits(const rt::ModelDef& m, const std::vector<uint8_t>& codes) {
  Logits out;
  rt::Interpreter it;
  rt::Status st = it.load(m);
  EXPECT_TRUE(st.is_ok()) << st.message();
  st = it.prepare();
  EXPECT_TRUE(st.is_ok()) << st.message();
  if (!st.is_ok()) return out;
  const size_t per = it.input().bytes();
  for (size_t off = 0; off + per <= codes.size(); off += per) {
    st = it.set_input(codes.data() + off, per);
    EXPECT_TRUE(st.is_ok()) << st.message();
    st = it.run();
    EXPECT_TRUE(st.is_ok()) << st.message();
    const rt::TensorView y = it.output();
    out.channels = static_cast<int32_t>(y.shape.elements());
    const int64_t hw = int64_t{y.shape.h} * y.shape.w;
    out.fl.resize(static_cast<size_t>(y.shape.elements()));
    for (int64_t k = 0; k < y.shape.elements(); ++k) out.fl[static_cast<size_t>(k)] = y.fl[k / hw];
    for (int64_t k = 0; k < y.shape.elements(); ++k) out.values.push_back(y.s32()[k]);
  }
  return out;
}

// ORT's output for `codes`: float32, images x outputs_per_image.
inline std::vector<float> ort_outputs(const std::string& onnx_path, const rt::ModelDef& m,
                                      const std::vector<uint8_t>& codes, const std::string& opt,
                                      const std::string& optimized_path = "") {
  const std::string in = onnx_path + ".in", out = onnx_path + "." + opt + ".out";
  std::ofstream(in, std::ios::binary)
      .write(reinterpret_cast<const char*>(codes.data()),
             static_cast<std::streamsize>(codes.size()));
  const int64_t per = m.input.shape.elements();
  const std::string shape = std::to_string(static_cast<int64_t>(codes.size()) / per) + "," +
                            std::to_string(m.input.shape.c) + "," +
                            std::to_string(m.input.shape.h) + "," + std::to_string(m.input.shape.w);
  std::string cmd = std::string(F8NET_NODE) + " " + shell_quote(F8NET_ORT_RUN_JS) + " --model " +
                    shell_quote(onnx_path) + " --input " + shell_quote(in) + " --dtype " +
                    (m.input.dtype == rt::DType::kInt8 ? "int8" : "uint8") + " --shape " + shape +
                    " --output " + shell_quote(out) + " --opt " + opt;
  if (!optimized_path.empty()) cmd += " --optimized-model " + shell_quote(optimized_path);
  std::string log;
  const int rc = run_command(cmd, &log);
  EXPECT_EQ(rc, 0) << cmd << "\n" << log;
  std::ifstream f(out, std::ios::binary | std::ios::ate);
  std::vector<float> y(static_cast<size_t>(f ? static_cast<int64_t>(f.tellg()) : 0) / 4);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(y.data()), static_cast<std::streamsize>(y.size() * 4));
  return y;
}

// Counts logits where ORT's value * 2^FL is not exactly f8net's integer.
inline int64_t count_mismatches(const Logits& want, const std::vector<float>& got) {
  if (got.size() != want.values.size()) {
    ADD_FAILURE() << "ORT gave " << got.size() << " outputs, f8net " << want.values.size();
    return -1;
  }
  int64_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const int32_t fl = want.fl[i % want.fl.size()];
    const double scaled = std::ldexp(static_cast<double>(got[i]), fl);
    if (scaled != static_cast<double>(want.values[i])) {
      if (bad < 5) {
        ADD_FAILURE() << "logit " << i << ": ORT " << got[i] << " * 2^" << fl << " = " << scaled
                      << ", f8net " << want.values[i];
      }
      ++bad;
    }
  }
  return bad;
}

// Exports `m`, checks it with onnx.checker and compares ORT (all optimizations, and none) with
// f8net on random and extreme inputs. Returns the export report.
inline rt::OnnxExportReport expect_ort_bit_exact(const rt::ModelDef& m, const std::string& name,
                                                 int images = 6, uint64_t seed = 1) {
  const std::string path = temp_dir() + "/" + name + ".onnx";
  rt::OnnxExportReport rep;
  const rt::Status st = rt::write_onnx_file(m, rt::OnnxOptions{}, path, &rep);
  EXPECT_TRUE(st.is_ok()) << st.message();
  if (!st.is_ok()) return rep;
  EXPECT_TRUE(rep.bit_exact_in_ort) << rt::describe_inexact(rep);
  expect_checker_accepts(path);
  const std::vector<uint8_t> codes = random_codes(m, images, seed);
  const Logits want = f8net_logits(m, codes);
  for (const char* opt : {"all", "disabled"}) {
    SCOPED_TRACE(name + " opt=" + opt);
    EXPECT_EQ(count_mismatches(want, ort_outputs(path, m, codes, opt)), 0);
  }
  return rep;
}

}  // namespace f8net::testing
