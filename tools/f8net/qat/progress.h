// Progress display for `f8net train` / `f8net eval --checkpoint` (no LibTorch): a redrawn bar with
// rate, ETA, loss and accuracy on a terminal (stderr isatty), plain lines every log interval
// otherwise. Everything goes to stderr so stdout carries only results (and the --json line).
#pragma once

#include <chrono>
#include <string>

#include "f8net/qat/trainer.h"

namespace f8net::cli {

class Progress : public qat::TrainObserver {
 public:
  // interval: seconds between plain lines; quiet: only messages and epoch lines.
  explicit Progress(double interval, bool force_plain = false);
  ~Progress() override;

  void stage_started(const std::string& stage, const std::string& mode,
                     const std::string& summary) override;
  void iteration(const qat::IterationInfo& info) override;
  void evaluating(const std::string& stage, int64_t done, int64_t total) override;
  void epoch_done(const qat::EpochRecord& record) override;
  void message(const std::string& text) override;
  // Erases a bar left on the terminal.
  void clear();

 private:
  using Clock = std::chrono::steady_clock;
  void draw(const std::string& line);

  bool tty_;
  double interval_;
  bool bar_shown_ = false;
  Clock::time_point stage_start_, last_draw_, last_line_;
  int64_t stage_first_iteration_ = -1;
  int64_t images_since_start_ = 0;
};

// "1:02:03" / "2:03" for seconds.
std::string format_duration(double seconds);

}  // namespace f8net::cli
