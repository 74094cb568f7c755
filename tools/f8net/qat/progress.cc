// Progress display (progress.h).
#include "progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace f8net::cli {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

Progress::Progress(double interval, bool force_plain)
    : tty_(!force_plain && ::isatty(STDERR_FILENO) != 0), interval_(interval) {
  stage_start_ = last_draw_ = last_line_ = Clock::now();
}

Progress::~Progress() { clear(); }

void Progress::clear() {
  if (bar_shown_) {
    std::cerr << "\r\033[K" << std::flush;
    bar_shown_ = false;
  }
}

void Progress::draw(const std::string& line) {
  std::cerr << "\r\033[K" << line << std::flush;
  bar_shown_ = true;
}

void Progress::stage_started(const std::string& stage, const std::string& mode,
                             const std::string& summary) {
  clear();
  std::cerr << "== " << stage << " (" << mode << "): " << summary << "\n" << std::flush;
  stage_start_ = last_line_ = Clock::now();
  stage_first_iteration_ = -1;
  images_since_start_ = 0;
}

void Progress::iteration(const qat::IterationInfo& info) {
  const auto now = Clock::now();
  if (stage_first_iteration_ < 0) {
    // Rates count from the first finished iteration (excludes start-up and data loading).
    stage_first_iteration_ = info.iteration;
    stage_start_ = now;
    return;
  }
  images_since_start_ += info.images;
  const double elapsed = std::chrono::duration<double>(now - stage_start_).count();
  const int64_t done = info.iteration - stage_first_iteration_;
  const double rate = elapsed > 0 ? static_cast<double>(images_since_start_) / elapsed : 0.0;
  const double eta = done > 0 ? elapsed / static_cast<double>(done) *
                                    static_cast<double>(info.iterations - info.iteration)
                              : NAN;
  char stats[200];
  std::snprintf(stats, sizeof(stats), "%.0f img/s ETA %s loss %.4f top1 %.2f%% lr %.4g", rate,
                format_duration(eta).c_str(), info.loss, info.top1, info.lr);
  const std::string head =
      info.stage + " ep " + std::to_string(info.epoch) + "/" + std::to_string(info.epochs);
  if (tty_) {
    if (std::chrono::duration<double>(now - last_draw_).count() < 0.1 &&
        info.batch != info.batches) {
      return;
    }
    last_draw_ = now;
    constexpr int kWidth = 24;
    const double frac = info.batches ? static_cast<double>(info.batch) / info.batches : 1.0;
    const int fill = static_cast<int>(frac * kWidth);
    std::string bar = "[" + std::string(static_cast<size_t>(fill), '#') +
                      std::string(static_cast<size_t>(kWidth - fill), '.') + "]";
    char pct[16];
    std::snprintf(pct, sizeof(pct), "%3.0f%%", 100.0 * frac);
    draw(head + " " + bar + " " + pct + " " + std::to_string(info.batch) + "/" +
         std::to_string(info.batches) + " " + stats);
    return;
  }
  if (std::chrono::duration<double>(now - last_line_).count() < interval_) return;
  last_line_ = now;
  std::cerr << "[" << head << "] batch " << info.batch << "/" << info.batches << ", iteration "
            << info.iteration << "/" << info.iterations << ": " << stats << "\n"
            << std::flush;
}

void Progress::evaluating(const std::string& stage, int64_t done, int64_t total) {
  if (!tty_) return;
  const auto now = Clock::now();
  if (std::chrono::duration<double>(now - last_draw_).count() < 0.1 && done != total) return;
  last_draw_ = now;
  draw(stage + ": evaluating " + std::to_string(done) + "/" + std::to_string(total) + " batches");
}

void Progress::epoch_done(const qat::EpochRecord& r) {
  clear();
  char line[320];
  std::snprintf(line, sizeof(line),
                "[%s] epoch %lld: train loss %.4f top1 %.2f%% | val loss %.4f top1 %.2f%% "
                "top5 %.2f%% | %s",
                r.stage.c_str(), static_cast<long long>(r.epoch), r.train_loss, r.train_top1,
                r.val_loss, r.val_top1, r.val_top5, format_duration(r.seconds).c_str());
  std::cerr << line << "\n" << std::flush;
  // Restart the rate window so the next epoch's ETA excludes the evaluation pause.
  stage_first_iteration_ = -1;
  images_since_start_ = 0;
}

void Progress::message(const std::string& text) {
  clear();
  std::cerr << text << "\n" << std::flush;
}

}  // namespace f8net::cli
