#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "proxier/netfilter/iptables_runner.h"
#include "proxier/netfilter/rule_spec.h"

namespace kpx {

// A stateful, in-memory IptablesRunner that behaves like the kernel for what kpx does: restore
// with --noflush semantics (declared user chains are created or flushed, others kept), "-X" only
// of existing, empty, unreferenced user chains, jumps only to existing chains, DNAT/MASQUERADE only
// in nat, all-or-nothing per call. Starts with the built-in chains of nat, filter and mangle in
// both families. Lets unit tests apply several syncs in a row and inspect or trace the result.
class FakeIptablesRunner : public IptablesRunner {
 public:
  struct Rule {
    std::vector<std::string> args;
    RuleSpec spec;
  };
  struct Chain {
    std::string policy = "-";  // "ACCEPT"/"DROP" for built-in chains
    std::vector<Rule> rules;
    bool builtin() const { return policy != "-"; }
  };
  using Table = std::map<std::string, Chain>;  // by chain name

  FakeIptablesRunner();

  std::string_view Name() const override { return "fake"; }
  Status Restore(IpFamily family, std::string_view text) override;
  Result<std::string> Save(IpFamily family, std::string_view table) override;
  Result<bool> EnsureJump(IpFamily family, const JumpRule& rule) override;
  Result<bool> DeleteJump(IpFamily family, const JumpRule& rule) override;
  Status DeleteChains(IpFamily family, std::string_view table,
                      const std::vector<std::string>& chains) override;

  // Inspection.
  const Table* GetTable(IpFamily family, std::string_view table) const;
  const Chain* GetChain(IpFamily family, std::string_view table, std::string_view chain) const;
  // "-A CHAIN args" lines of one chain, as iptables-save would list them.
  std::vector<std::string> RuleLines(IpFamily family, std::string_view table,
                                     std::string_view chain) const;
  // The restore texts applied successfully, oldest first.
  const std::vector<std::string>& restores(IpFamily family) const {
    return restores_[static_cast<int>(family)];
  }
  int restore_calls() const { return restore_calls_; }
  // The family of every restore call (failed ones too), in call order.
  const std::vector<IpFamily>& restore_families() const { return restore_families_; }
  int save_calls() const { return save_calls_; }
  int ensure_calls() const { return ensure_calls_; }

  // Fault and drift injection.
  void FailNextRestores(int count) { fail_restores_ = count; }
  void FlushChain(IpFamily family, std::string_view table, std::string_view chain);
  // What "iptables -t <table> -F; iptables -t <table> -X" (or a firewall reload) leaves: the
  // built-in chains, empty.
  void FlushTable(IpFamily family, std::string_view table);
  // Adds a foreign rule (someone else's), so tests can check it survives.
  Status AppendRule(IpFamily family, std::string_view table, std::string_view chain,
                    const std::vector<std::string>& args);

 private:
  using Tables = std::map<std::string, Table>;
  static Status ValidateTable(const std::string& name, const Table& table);

  std::array<Tables, 2> tables_;
  std::array<std::vector<std::string>, 2> restores_;
  int restore_calls_ = 0;
  std::vector<IpFamily> restore_families_;
  int save_calls_ = 0;
  int ensure_calls_ = 0;
  int fail_restores_ = 0;
};

}  // namespace kpx
