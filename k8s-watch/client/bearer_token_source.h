#pragma once

#include <sys/types.h>

#include <ctime>
#include <mutex>
#include <string>

#include "base/status.h"

namespace kpx {

// The bearer token to send with each request. A token file (service-account projected tokens,
// kubeconfig tokenFile) is rotated by the kubelet, so it is re-read whenever its identity, size
// or modification time changes; an unchanged file costs one stat(). When the file cannot be read
// the last good value is kept (then the static token), so a rotation caught half-written does not
// drop authentication. Thread-safe. Never logs the token.
class BearerTokenSource {
 public:
  BearerTokenSource(std::string token, std::string token_file);

  // The token to send; empty means "send no Authorization header". An error only when a token
  // file is configured and no value was ever readable.
  Result<std::string> Get();

 private:
  struct FileStamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    timespec mtime{};
    bool operator==(const FileStamp& o) const {
      return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
             mtime.tv_nsec == o.mtime.tv_nsec;
    }
  };

  const std::string static_token_;
  const std::string token_file_;
  std::mutex mu_;
  FileStamp stamp_;
  std::string file_token_;
  bool have_file_token_ = false;
};

}  // namespace kpx
