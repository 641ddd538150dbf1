#pragma once

#include <array>
#include <set>
#include <string>
#include <vector>

#include "proxier/netfilter/iptables_runner.h"

namespace kpx::testing {

// Records what the userspace dataplane asks of iptables. The iptables mode's stateful fake does
// not model the REDIRECT target, and the userspace mode needs no more than this: the last restore
// text per family, the jumps present, the chains deleted.
class RecordingIptablesRunner : public IptablesRunner {
 public:
  std::string_view Name() const override { return "recording"; }
  Status Restore(IpFamily family, std::string_view text) override {
    ++restores;
    if (fail_restores > 0) {
      --fail_restores;
      return Status::Error("injected restore failure");
    }
    last_text[static_cast<int>(family)] = std::string(text);
    return Status::Ok();
  }
  Result<std::string> Save(IpFamily family, std::string_view table) override {
    return last_text[static_cast<int>(family)];
  }
  Result<bool> EnsureJump(IpFamily family, const JumpRule& rule) override {
    ++ensures;
    return jumps[static_cast<int>(family)].insert(rule.chain + ">" + rule.target).second;
  }
  Result<bool> DeleteJump(IpFamily family, const JumpRule& rule) override {
    return jumps[static_cast<int>(family)].erase(rule.chain + ">" + rule.target) > 0;
  }
  Status DeleteChains(IpFamily family, std::string_view table,
                      const std::vector<std::string>& chains) override {
    for (const auto& c : chains) deleted_chains.push_back(std::string(table) + "/" + c);
    last_text[static_cast<int>(family)].clear();
    return Status::Ok();
  }

  std::array<std::string, 2> last_text;
  std::array<std::set<std::string>, 2> jumps;
  std::vector<std::string> deleted_chains;
  int restores = 0;
  int ensures = 0;
  int fail_restores = 0;
};

}  // namespace kpx::testing
