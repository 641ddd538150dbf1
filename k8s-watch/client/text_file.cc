#include "k8s-watch/client/text_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kpx {

Result<std::string> TextFile::Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(path + ": " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return Status::Error(path + ": read failed");
  return content.str();
}

}  // namespace kpx
