#pragma once

#include <glog/logging.h>

#include <mutex>
#include <string>
#include <vector>

namespace kpx::testing {

// Captures glog messages of WARNING and above while alive, so tests can check what an operator
// would read.
class LogCapture : public google::LogSink {
 public:
  LogCapture();
  ~LogCapture() override;

  using google::LogSink::send;
  void send(google::LogSeverity severity, const char* full_filename, const char* base_filename,
            int line, const google::LogMessageTime& time, const char* message,
            size_t message_len) override;

  std::vector<std::string> Warnings() const;
  // Warnings that contain every one of `parts`.
  size_t CountMatching(const std::vector<std::string>& parts) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> warnings_;
};

}  // namespace kpx::testing
