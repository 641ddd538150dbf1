#include "cmd/oom_score.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kpx {

Status ApplyOomScoreAdj(int value, const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return Status::Error("cannot open " + path + ": " + std::strerror(errno));
  const std::string text = std::to_string(value) + "\n";
  const ssize_t n = write(fd, text.data(), text.size());
  const int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return Status::Error("cannot write " + std::to_string(value) + " to " + path + ": " +
                         std::strerror(err));
  }
  return Status::Ok();
}

}  // namespace kpx
