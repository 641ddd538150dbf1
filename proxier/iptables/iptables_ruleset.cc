#include "proxier/iptables/iptables_ruleset.h"

namespace kpx {

namespace {

void AppendTable(const RenderedTable& table, const std::set<ServicePortName>* only,
                 const std::vector<std::string>& stale, std::string& out) {
  auto wanted = [&](const RenderedChain& c) {
    return only == nullptr || !c.owner || only->contains(*c.owner);
  };
  out += "*" + table.name + "\n";
  for (const auto& c : table.chains) {
    if (wanted(c)) out += ":" + c.name + " - [0:0]\n";
  }
  for (const auto& name : stale) out += ":" + name + " - [0:0]\n";
  for (const auto& c : table.chains) {
    if (!wanted(c)) continue;
    for (const auto& r : c.rules) {
      out += r;
      out.push_back('\n');
    }
  }
  for (const auto& name : stale) out += "-X " + name + "\n";
  out += "COMMIT\n";
}

}  // namespace

size_t RenderedTable::RuleCount() const {
  size_t n = 0;
  for (const auto& c : chains) n += c.rules.size();
  return n;
}

std::set<std::string> RenderedTable::ChainNames() const {
  std::set<std::string> out;
  for (const auto& c : chains) out.insert(c.name);
  return out;
}

IptablesRuleset::IptablesRuleset(IpFamily family, RenderedTable filter, RenderedTable nat)
    : family_(family), filter_(std::move(filter)), nat_(std::move(nat)) {}

std::string IptablesRuleset::RestoreText(const std::set<ServicePortName>* only,
                                         const std::vector<std::string>& stale_filter,
                                         const std::vector<std::string>& stale_nat) const {
  std::string out;
  out.reserve(64 * (filter_.RuleCount() + nat_.RuleCount()) + 256);
  AppendTable(filter_, only, stale_filter, out);
  AppendTable(nat_, only, stale_nat, out);
  return out;
}

}  // namespace kpx
