#pragma once
/// \file A progress bar on stderr: iterations per second, ETA and the main losses, redrawn in place
/// on a terminal; plain lines (every few percent or 30 s) when stderr is not a terminal.
///
/// \code
///   train::ProgressBar bar(total, start);
///   bar.update(it, {{"d", d_loss}, {"g", g_loss}});
///   bar.finish();
/// \endcode
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace structgan::train {

/// "1h02m", "3m07s", "12s".
inline std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

/// Progress of iterations start+1 … total on stderr (or any FILE*).
class ProgressBar {
 public:
  /// `tty`: −1 detects whether `out` is a terminal; 0 forces plain lines; 1 forces the bar.
  ProgressBar(std::int64_t total, std::int64_t start = 0, std::FILE* out = stderr, int tty = -1)
      : total_(total), start_(start), out_(out), begin_(std::chrono::steady_clock::now()), last_line_(begin_) {
    tty_ = tty < 0 ? ::isatty(::fileno(out)) == 1 : tty == 1;
    const std::int64_t todo = total_ - start_;
    line_every_ = todo > 50 ? todo / 50 : 1;
  }

  /// Reports that iteration `it` is done, with named values to show (e.g. D's and G's losses).
  void update(std::int64_t it, const std::vector<std::pair<std::string, double>>& values) {
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - begin_).count();
    const double rate = elapsed > 0 ? static_cast<double>(it - start_) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total_ - it) / rate : -1.0;
    std::string vals;
    char buf[64];
    for (const auto& [name, v] : values) {
      std::snprintf(buf, sizeof buf, "  %s %.4g", name.c_str(), v);
      vals += buf;
    }
    const double frac = total_ > 0 ? static_cast<double>(it) / static_cast<double>(total_) : 1.0;
    char head[160];
    if (tty_) {
      const int width = 24, fill = static_cast<int>(frac * width + 1e-9);
      std::string bar(static_cast<std::size_t>(fill), '#');
      bar.resize(width, '.');
      std::snprintf(head, sizeof head, "\r[%s] %" PRId64 "/%" PRId64 " %.2f it/s ETA %s", bar.c_str(), it, total_, rate,
                    format_duration(eta).c_str());
      std::fprintf(out_, "%s%s\x1b[K", head, vals.c_str());
      std::fflush(out_);
      drawn_ = true;
      return;
    }
    const bool due = (it - start_) % line_every_ == 0 || it == total_ ||
                     std::chrono::duration<double>(now - last_line_).count() >= 30.0;
    if (!due) return;
    last_line_ = now;
    std::snprintf(head, sizeof head, "iter %" PRId64 "/%" PRId64 " (%.0f%%) %.2f it/s elapsed %s ETA %s", it, total_,
                  100.0 * frac, rate, format_duration(elapsed).c_str(), format_duration(eta).c_str());
    std::fprintf(out_, "%s%s\n", head, vals.c_str());
    std::fflush(out_);
  }

  /// Ends the bar's line (terminal) so later output starts on a new line.
  void finish() {
    if (tty_ && drawn_) std::fprintf(out_, "\n");
    drawn_ = false;
    std::fflush(out_);
  }
  bool is_tty() const { return tty_; }

 private:
  std::int64_t total_, start_;
  std::FILE* out_;
  bool tty_ = false, drawn_ = false;
  std::int64_t line_every_ = 1;
  std::chrono::steady_clock::time_point begin_, last_line_;
};

}  // namespace structgan::train
