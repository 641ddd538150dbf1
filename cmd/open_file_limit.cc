#include "cmd/open_file_limit.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace kpx {

Result<uint64_t> RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Status::Error(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  if (limit.rlim_cur != limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return Status::Error("raising the open-file soft limit to " + std::to_string(limit.rlim_max) +
                           ": " + std::strerror(errno));
    }
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

}  // namespace kpx
