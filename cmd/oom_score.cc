#include "cmd/oom_score.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace kpx {

Status ApplyOomScoreAdj(int value, const std::string& path) {
  std::ofstream out(path);
  if (!out) return Status::Error("cannot open " + path + ": " + std::strerror(errno));
  out << value << "\n";
  out.flush();
  if (!out) return Status::Error("cannot write " + std::to_string(value) + " to " + path);
  return Status::Ok();
}

}  // namespace kpx
