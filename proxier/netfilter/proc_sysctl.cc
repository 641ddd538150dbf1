#include "proxier/netfilter/proc_sysctl.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kpx {

Result<std::string> ProcSysctl::Get(const std::string& path) {
  std::ifstream in(root_ + "/" + path);
  if (!in) return Status::Error("sysctl " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string v = ss.str();
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

Status ProcSysctl::Set(const std::string& path, const std::string& value) {
  std::ofstream out(root_ + "/" + path);
  if (!out) return Status::Error("sysctl " + path + ": " + std::strerror(errno));
  out << value << "\n";
  out.flush();
  if (!out) return Status::Error("sysctl " + path + " = " + value + ": write failed");
  return Status::Ok();
}

}  // namespace kpx
