#include "tests/k8s-watch/manifest/log_capture.h"

namespace kpx::testing {

LogCapture::LogCapture() { google::AddLogSink(this); }

LogCapture::~LogCapture() { google::RemoveLogSink(this); }

void LogCapture::send(google::LogSeverity severity, const char* full_filename,
                      const char* base_filename, int line, const google::LogMessageTime& time,
                      const char* message, size_t message_len) {
  if (severity < google::GLOG_WARNING) return;
  std::lock_guard<std::mutex> lock(mu_);
  warnings_.emplace_back(message, message_len);
}

std::vector<std::string> LogCapture::Warnings() const {
  std::lock_guard<std::mutex> lock(mu_);
  return warnings_;
}

size_t LogCapture::CountMatching(const std::vector<std::string>& parts) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const std::string& w : warnings_) {
    bool all = true;
    for (const std::string& p : parts) all = all && w.find(p) != std::string::npos;
    if (all) ++n;
  }
  return n;
}

}  // namespace kpx::testing
