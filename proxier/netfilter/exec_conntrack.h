#pragma once

#include <memory>
#include <string>
#include <vector>

#include "proxier/netfilter/command_executor.h"
#include "proxier/netfilter/conntrack.h"

namespace kpx {

// Conntrack over the conntrack(8) tool: "conntrack -D -f ipv4 -p udp --orig-dst ... ".
class ExecConntrack : public Conntrack {
 public:
  explicit ExecConntrack(std::shared_ptr<CommandExecutor> executor,
                         std::string binary = "conntrack");
  Status Delete(const ConntrackFilter& filter) override;
  std::vector<std::string> Argv(const ConntrackFilter& filter) const;

 private:
  std::shared_ptr<CommandExecutor> executor_;
  std::string binary_;
};

}  // namespace kpx
