#include "k8s-watch/client/bearer_token_source.h"

#include <glog/logging.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "k8s-watch/client/text_file.h"

namespace kpx {

namespace {

std::string Trim(std::string s) {
  const char* kSpace = " \t\r\n";
  const size_t end = s.find_last_not_of(kSpace);
  if (end == std::string::npos) return std::string();
  s.erase(end + 1);
  s.erase(0, s.find_first_not_of(kSpace));
  return s;
}

}  // namespace

BearerTokenSource::BearerTokenSource(std::string token, std::string token_file)
    : static_token_(Trim(std::move(token))), token_file_(std::move(token_file)) {}

Result<std::string> BearerTokenSource::Get() {
  if (token_file_.empty()) return static_token_;
  std::lock_guard<std::mutex> lock(mu_);
  struct stat st;
  if (stat(token_file_.c_str(), &st) != 0) {
    LOG(WARNING) << "bearer token file " << token_file_ << ": " << std::strerror(errno);
  } else {
    FileStamp now{st.st_dev, st.st_ino, st.st_size, st.st_mtim};
    if (!have_file_token_ || !(now == stamp_)) {
      Result<std::string> text = TextFile::Read(token_file_);
      std::string token = text.ok() ? Trim(*text) : std::string();
      if (!text.ok()) {
        LOG(WARNING) << "bearer token file: " << text.status().message();
      } else if (token.empty()) {
        LOG(WARNING) << "bearer token file " << token_file_ << " is empty; keeping the last token";
      } else {
        if (have_file_token_) VLOG(2) << "bearer token file " << token_file_ << " changed";
        file_token_ = std::move(token);
        have_file_token_ = true;
        stamp_ = now;
      }
    }
  }
  if (have_file_token_) return file_token_;
  if (!static_token_.empty()) return static_token_;
  return Status::Error("bearer token file " + token_file_ + " is unreadable or empty");
}

}  // namespace kpx
