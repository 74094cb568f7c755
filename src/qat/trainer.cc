// run_training (trainer.h): the run directory's policy (a new run needs an empty directory, a
// resume its config.yaml; one writer per directory; stale temporaries removed) around the stage
// loop of training-run.cc.
#include "f8net/qat/trainer.h"

#include <filesystem>
#include <stdexcept>
#include <thread>

#include "file-io.h"
#include "model-options.h"
#include "one-line-errors.h"
#include "run-data.h"
#include "run-lock.h"
#include "training-run.h"

namespace f8net::qat {
namespace {

namespace fs = std::filesystem;

bool dir_has_run(const std::string& dir) {
  std::error_code ec;
  // config.yaml alone is a start that failed before any checkpoint: a retry may replace it.
  for (const char* f : {"metrics.jsonl", "pretrain-last.pt", "train-last.pt", "pretrain-best.pt",
                        "train-best.pt"}) {
    if (fs::exists(fs::path(dir) / f, ec)) return true;
  }
  return false;
}

// Temporary files of write_file_atomic (".<name>.tmp-XXXXXX") left by a process that was
// killed mid-write; safe to remove because the run lock is held.
void remove_stale_temporaries(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 1 && n[0] == '.' && n.find(".tmp-") != std::string::npos &&
        e.is_regular_file(ec)) {
      fs::remove(e.path(), ec);
    }
  }
}

}  // namespace

int64_t resolve_threads(int64_t requested) {
  if (requested > 0) return requested;
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? n : 1;
}

TrainConfig load_run_config(const std::string& out_dir) {
  const std::string file = (fs::path(out_dir) / "config.yaml").string();
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    throw std::runtime_error(out_dir + ": no config.yaml: not a run directory to resume");
  }
  return load_config(file);
}

TrainResult run_training(const TrainConfig& config, const RunOptions& options) {
  if (options.out_dir.empty()) throw std::runtime_error("no output directory given");
  TrainConfig c = config;
  std::error_code ec;
  const fs::path out(options.out_dir);
  if (options.resume) {
    c = load_run_config(options.out_dir);
  } else {
    if (fs::exists(out, ec) && !fs::is_directory(out, ec)) {
      throw std::runtime_error(options.out_dir + ": exists and is not a directory");
    }
    if (options.dist.rank == 0 && fs::is_directory(out, ec) && dir_has_run(options.out_dir)) {
      throw std::runtime_error(
          options.out_dir +
          ": already holds a run (use --resume to continue it, or another --out)");
    }
  }
  validate_config(c);
  // Open the data and build the model before creating anything, so bad data or a model that
  // does not fit leaves no directory behind.
  for (const StageConfig* st : {&c.pretrain, &c.train}) {
    if (st->enabled && st->device == "cuda" && !torch::cuda::is_available()) {
      throw ConfigError(std::string("config: key '") + (st == &c.train ? "train" : "pretrain") +
                        ".device': cuda, but this LibTorch has no CUDA device (Debian's is "
                        "CPU-only: build f8net against a CUDA LibTorch, or use cpu)");
    }
  }
  detail::one_line_errors([&] {
    const detail::RunData data = detail::open_run_data(c.data);
    detail::build_model(detail::run_model_options(c, data, c.train.mode));
    return 0;
  });
  if (options.dist.rank != 0) {
    // Another rank of a data-parallel job: rank 0 owns the directory (training-run.cc).
    detail::TrainingRun run(c, options);
    return detail::one_line_errors([&] { return run.run(); });
  }
  if (!options.resume) {
    fs::create_directories(out, ec);
    if (ec)
      throw std::runtime_error(options.out_dir + ": cannot create the directory: " + ec.message());
  }
  // One writer per run directory; a second process started at the same moment passed the check
  // above too, so it is repeated under the lock.
  const detail::RunLock lock(options.out_dir);
  remove_stale_temporaries(options.out_dir);
  if (!options.resume) {
    if (dir_has_run(options.out_dir)) {
      throw std::runtime_error(
          options.out_dir +
          ": already holds a run (use --resume to continue it, or another --out)");
    }
    write_file_atomic((out / "config.yaml").string(), config_to_yaml(c));
  }
  detail::TrainingRun run(c, options);
  return detail::one_line_errors([&] { return run.run(); });
}

}  // namespace f8net::qat
