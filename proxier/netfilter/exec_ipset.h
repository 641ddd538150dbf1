#pragma once

#include <memory>

#include "proxier/netfilter/command_executor.h"
#include "proxier/netfilter/ipset.h"

namespace kpx {

// Ipset over the ipset(8) binary.
class ExecIpset : public Ipset {
 public:
  explicit ExecIpset(std::shared_ptr<CommandExecutor> executor, std::string binary = "ipset");
  Status Restore(std::string_view text) override;
  Result<std::string> Save() override;
  Status Destroy(const std::string& name) override;

 private:
  std::shared_ptr<CommandExecutor> executor_;
  std::string binary_;
};

}  // namespace kpx
