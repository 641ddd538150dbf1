#pragma once

#include <memory>
#include <string>

#include "proxier/netfilter/command_executor.h"
#include "proxier/netfilter/iptables_runner.h"

namespace kpx {

// Which binaries the exec runner calls.
enum class IptablesFlavor {
  kSystem,  // iptables, iptables-save, iptables-restore (whatever the alternatives point at)
  kNft,     // iptables-nft*, ip6tables-nft*
  kLegacy,  // iptables-legacy*, ip6tables-legacy*
};

// IptablesRunner over the iptables command-line tools, driven through argv (never a shell).
// Restores use "--noflush --counters" and wait up to 5 s for the xtables lock, as kube-proxy does.
class ExecIptablesRunner : public IptablesRunner {
 public:
  ExecIptablesRunner(IptablesFlavor flavor, std::shared_ptr<CommandExecutor> executor);

  std::string_view Name() const override;
  Status Restore(IpFamily family, std::string_view text) override;
  Result<std::string> Save(IpFamily family, std::string_view table) override;
  Result<bool> EnsureJump(IpFamily family, const JumpRule& rule) override;
  Result<bool> DeleteJump(IpFamily family, const JumpRule& rule) override;
  Status DeleteChains(IpFamily family, std::string_view table,
                      const std::vector<std::string>& chains) override;

  // Binary names for a family: "iptables-nft", "ip6tables-legacy-restore", ...
  std::string Binary(IpFamily family,
                     std::string_view tool) const;  // tool: "", "-save", "-restore"

 private:
  Result<CommandOutput> Iptables(IpFamily family, std::vector<std::string> args);
  Result<bool> Check(IpFamily family, const JumpRule& rule);

  IptablesFlavor flavor_;
  std::shared_ptr<CommandExecutor> executor_;
};

}  // namespace kpx
