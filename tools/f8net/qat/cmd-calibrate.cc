// `f8net calibrate --checkpoint CKPT -o OUT [--batches N] [--batch-size B] [--data DIR]`: BN
// re-calibration of a training checkpoint (the reference's bn_calib_before_test as its own step,
// qat::calibrate_checkpoint): cumulative BN statistics over N training batches, written to OUT
// atomically with the checkpoint's metadata and config; parameters are untouched.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "f8net/qat/trainer.h"

namespace f8net::cli {
namespace {

struct CalibrateArgs {
  std::string checkpoint, output, data_dir;
  int64_t batches = 20;
  int64_t batch_size = 0;
  int threads = 0;
};

void run_calibrate(const CalibrateArgs& args) {
  if (args.checkpoint == args.output) {
    throw UsageError("calibrate: -o must differ from --checkpoint");
  }
  qat::CalibrateOptions o;
  o.checkpoint = args.checkpoint;
  o.out = args.output;
  o.data_dir = args.data_dir;
  o.batches = args.batches;
  o.batch_size = args.batch_size;
  o.threads = args.threads;
  qat::CalibrateResult r;
  try {
    r = qat::calibrate_checkpoint(o);
  } catch (const std::exception& e) {
    throw Error(std::string("calibrate: ") + e.what());
  }
  char line[300];
  std::snprintf(line, sizeof(line),
                "calibrated BN statistics over %lld training images: top-1 %.2f%% -> %.2f%%, "
                "written to %s\n",
                static_cast<long long>(r.images), r.before, r.after, args.output.c_str());
  std::cout << line;
}

void add_calibrate(CLI::App& app) {
  auto args = std::make_shared<CalibrateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "Re-estimate a checkpoint's BN statistics (cumulative average over N batches)");
  cmd->add_option("--checkpoint", args->checkpoint, "Training checkpoint")->required();
  cmd->add_option("-o,--output", args->output, "The calibrated checkpoint to write")->required();
  cmd->add_option("--batches", args->batches, "Training batches to average (default 20)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch-size", args->batch_size, "Batch size (0: the config's train.batch_size)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--data", args->data_dir, "Data directory (default: the one in the checkpoint)");
  cmd->add_option("--threads", args->threads, "LibTorch threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([args] { run_calibrate(*args); });
}

}  // namespace

F8NET_REGISTER_COMMAND(25, add_calibrate);

}  // namespace f8net::cli
