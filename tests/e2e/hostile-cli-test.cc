// Hostile and careless input through the whole CLI: generated bad checkpoints, model files,
// images, configs and data directories given to every command that reads them. Each case must
// end (under a timeout) with exit code 1 or 2 — never a signal, never 0 —, exactly one line on
// stderr, and the working directory unchanged: no file modified, none left behind.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "cli-runner.h"

namespace {

namespace fs = std::filesystem;
using f8net::testing::TempDir;

// path -> contents of every file under `root` (the captured stdout/stderr excluded).
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (name == "stdout.txt" || name == "stderr.txt") continue;
    files[fs::relative(e.path(), root).string()] =
        e.is_regular_file() ? f8net::testing::slurp(e.path().string()) : "<dir>";
  }
  return files;
}

struct Result {
  int code = -1;
  bool signaled = false;
  std::string err;
};

Result run_bounded(const std::string& args, const TempDir& dir) {
  const std::string err = dir / "stderr.txt";
  const std::string cmd = "timeout -s KILL 60 " + std::string(F8NET_BINARY) + " " + args + " >" +
                          (dir / "stdout.txt") + " 2>" + err + " </dev/null";
  const int status = std::system(cmd.c_str());
  Result r;
  r.signaled = !WIFEXITED(status) || WEXITSTATUS(status) == 137 || WEXITSTATUS(status) >= 128;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = f8net::testing::slurp(err);
  return r;
}

void bytes_to(const std::string& path, const std::string& bytes) {
  f8net::testing::write_text(path, "");
  std::ofstream(path, std::ios::binary) << bytes;
}

class HostileCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const TempDir& d = *dir_;
    f8net::testing::write_fashion_dir(d / "data", 64, 16);
    f8net::testing::write_text(
        d / "ok.yaml",
        "model: {arch: small_cnn, width_mult: 0.5}\n"
        "data: {dataset: fashion-mnist, dir: " +
            (d / "data") +
            "}\n"
            "pretrain: {enabled: false}\n"
            "train: {mode: fixed, epochs: 1, batch_size: 16, lr: 0.01}\nthreads: 1\n");
    const auto t =
        f8net::testing::run_cli("train --config " + (d / "ok.yaml") + " --out " + (d / "run"), d);
    ASSERT_EQ(t.code, 0) << t.err;
    const auto e = f8net::testing::run_cli(
        "export --checkpoint " + (d / "run/train-best.pt") + " -o " + (d / "good.f8"), d);
    ASSERT_EQ(e.code, 0) << e.err;
    make_bad_inputs(d);
  }
  static void TearDownTestSuite() { delete dir_; }

  static void make_bad_inputs(const TempDir& d) {
    const std::string ckpt = f8net::testing::slurp(d / "run/train-best.pt");
    const std::string f8 = f8net::testing::slurp(d / "good.f8");
    fs::create_directories(d / "bad");
    bytes_to(d / "bad/empty.pt", "");
    bytes_to(d / "bad/text.pt", "this is not a checkpoint\n");
    bytes_to(d / "bad/half.pt", ckpt.substr(0, ckpt.size() / 2));
    for (size_t at : {ckpt.size() / 3, ckpt.size() / 2, ckpt.size() - 30}) {
      std::string b = ckpt;
      b[at] = static_cast<char>(b[at] ^ 0x5A);
      bytes_to(d / ("bad/flip" + std::to_string(at) + ".pt"), b);
    }
    bytes_to(d / "bad/half.f8", f8.substr(0, f8.size() / 2));
    {
      std::string b = f8;
      b[b.size() / 2] = static_cast<char>(b[b.size() / 2] ^ 1);
      bytes_to(d / "bad/flip.f8", b);
    }
    bytes_to(d / "bad/empty.png", "");
    bytes_to(d / "bad/random.jpg", std::string(300, '\xd8'));
    std::string huge_png("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x80\0\0\0\x80\0\x08\x02\0\0\0", 29);
    bytes_to(d / "bad/huge.png", huge_png + std::string(40, '\0'));
    bytes_to(d / "bad/cut.jpg", std::string("\xff\xd8\xff\xc0\x00\x0b\x08\x00\x0c\x00\x0c\x01"
                                            "\x01\x11\x00\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
                                            "\x12\x34",
                                            28));
    std::string bomb = "a: &a {k0: 1, k1: 1, k2: 1, k3: 1, k4: 1, k5: 1, k6: 1, k7: 1}\n";
    for (char c = 'b'; c <= 'j'; ++c) {
      bomb += std::string(1, c) + ": &" + c + " {";
      for (int i = 0; i < 8; ++i) {
        bomb += std::string(i ? ", k" : "k") + std::to_string(i) + ": *" + static_cast<char>(c - 1);
      }
      bomb += "}\n";
    }
    bytes_to(d / "bad/bomb.yaml", bomb + "train: *j\n");
    bytes_to(d / "bad/notyaml.yaml", "model: [unclosed\n");
    bytes_to(d / "bad/epochs.yaml", "train: {epochs: 9223372036854775000}\n");
    bytes_to(d / "bad/warmup.yaml", "train: {warmup_epochs: 1e300}\n");
    bytes_to(d / "bad/typo.yaml", "trian: {epochs: 3}\n");
    fs::create_directories(d / "bad/nodata");
    fs::create_directories(d / "bad/badidx");
    bytes_to(d / "bad/badidx/t10k-images-idx3-ubyte.gz", "\x1f\x8b garbage");
    bytes_to(d / "bad/badidx/t10k-labels-idx1-ubyte.gz", "");
    bytes_to(d / "bad/badidx/train-images-idx3-ubyte.gz", "\x1f\x8b garbage");
    bytes_to(d / "bad/badidx/train-labels-idx1-ubyte.gz", "");
  }

  static TempDir* dir_;
};
TempDir* HostileCli::dir_ = nullptr;

}  // namespace

TEST_F(HostileCli, EveryCommandRefusesBadInputWithOneLineAndTouchesNothing) {
  const TempDir& d = *dir_;
  const std::string b = d / "bad";
  const std::string good_f8 = d / "good.f8", good_pt = d / "run/train-best.pt";
  std::vector<std::string> cases;
  for (const char* ck : {"empty.pt", "text.pt", "half.pt"}) {
    const std::string p = b + "/" + ck;
    cases.push_back("eval --checkpoint " + p + " --data " + (d / "data"));
    cases.push_back("export --checkpoint " + p + " -o " + (d / "new.f8"));
    cases.push_back("verify --checkpoint " + p + " --model " + good_f8);
  }
  for (const auto& e : fs::directory_iterator(b)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("flip", 0) == 0 && n.size() > 3 && n.substr(n.size() - 3) == ".pt") {
      cases.push_back("eval --checkpoint " + e.path().string() + " --data " + (d / "data"));
      cases.push_back("export --checkpoint " + e.path().string() + " -o " + (d / "new.f8"));
    }
  }
  for (const char* m : {"half.f8", "flip.f8", "empty.png"}) {
    cases.push_back("inspect " + b + "/" + m);
    cases.push_back("run --model " + b + "/" + m + " " + b + "/cut.jpg");
    cases.push_back("eval --model " + b + "/" + m + " --data " + (d / "data"));
    cases.push_back("verify --checkpoint " + good_pt + " --model " + b + "/" + m);
  }
  for (const char* img : {"empty.png", "random.jpg", "huge.png", "cut.jpg", "missing.png"}) {
    cases.push_back("run --model " + good_f8 + " --resize " + b + "/" + img);
  }
  for (const char* cfg :
       {"bomb.yaml", "notyaml.yaml", "epochs.yaml", "warmup.yaml", "typo.yaml", "missing.yaml"}) {
    cases.push_back("train --config " + b + "/" + cfg + " --out " + (d / "newrun"));
  }
  cases.push_back("train --config " + (d / "ok.yaml") + " --set data.dir=" + b + "/badidx --out " +
                  (d / "newrun"));
  cases.push_back("train --config " + (d / "ok.yaml") + " --set data.dir=" + b + "/nodata --out " +
                  (d / "newrun"));
  cases.push_back("train --config " + (d / "ok.yaml") + " --out " + (d / "run"));  // holds a run
  cases.push_back("train --out " + b + "/nodata --resume");
  cases.push_back("eval --model " + good_f8 + " --data " + b + "/badidx");
  cases.push_back("eval --model " + good_f8 + " --data " + b + "/nodata");
  cases.push_back("eval --checkpoint " + good_pt + " --data " + b + "/badidx");
  cases.push_back("run --model " + good_f8 + " --threads 100000 " + b + "/cut.jpg");
  cases.push_back("train --config " + (d / "ok.yaml") + " --bogus-flag");

  const auto before = snapshot(d.path());
  for (const std::string& args : cases) {
    const Result r = run_bounded(args, d);
    EXPECT_FALSE(r.signaled) << args << ": exit " << r.code << "\n" << r.err;
    EXPECT_TRUE(r.code == 1 || r.code == 2) << args << ": exit " << r.code << "\n" << r.err;
    EXPECT_EQ(f8net::testing::count_lines(r.err), 1) << args << ":\n" << r.err;
    EXPECT_EQ(snapshot(d.path()), before) << args << ": changed or left files behind";
  }
}
