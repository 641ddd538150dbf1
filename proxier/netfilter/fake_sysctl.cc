#include "proxier/netfilter/fake_sysctl.h"

namespace kpx {

FakeSysctl::FakeSysctl() {
  // A freshly booted kernel with ip_vs loaded.
  values_ = {{"net/ipv4/vs/conntrack", "0"},
             {"net/ipv4/vs/conn_reuse_mode", "1"},
             {"net/ipv4/vs/expire_nodest_conn", "0"},
             {"net/ipv4/vs/expire_quiescent_template", "0"},
             {"net/ipv4/ip_forward", "0"},
             {"net/ipv4/conf/all/arp_ignore", "0"},
             {"net/ipv4/conf/all/arp_announce", "0"}};
}

Result<std::string> FakeSysctl::Get(const std::string& path) {
  auto it = values_.find(path);
  if (it == values_.end()) return Status::Error("sysctl " + path + ": No such file or directory");
  return it->second;
}

Status FakeSysctl::Set(const std::string& path, const std::string& value) {
  auto it = values_.find(path);
  if (it == values_.end()) return Status::Error("sysctl " + path + ": No such file or directory");
  it->second = value;
  ++writes_;
  return Status::Ok();
}

}  // namespace kpx
