#pragma once

#include <functional>
#include <optional>
#include <string>

#include "cmd/kpx_config.h"

namespace kpx {

// The kernel settings kube-proxy makes on a node: conntrack table size and TCP timeouts
// (conntrack.*), and route_localnet for NodePorts on 127.0.0.1. Reads and writes go through
// `read`/`write` (paths under /proc/sys) so the decisions are tested without a kernel.
class NodeSysctls {
 public:
  using Reader = std::function<std::optional<std::string>(const std::string& path)>;
  using Writer = std::function<bool(const std::string& path, const std::string& value)>;

  NodeSysctls(Reader read, Writer write, int cpus) : read_(read), write_(write), cpus_(cpus) {}
  // The real /proc/sys.
  static NodeSysctls Proc();

  // Applies what `config` asks for. Never fails the start: a setting the kernel refuses (e.g.
  // nf_conntrack_max inside a network namespace) is logged and skipped. Returns how many were
  // written.
  int Apply(const KpxConfig& config);

 private:
  bool SetIfDifferent(const std::string& path, const std::string& value, bool only_raise);

  Reader read_;
  Writer write_;
  int cpus_;
};

}  // namespace kpx
