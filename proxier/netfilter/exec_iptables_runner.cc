#include "proxier/netfilter/exec_iptables_runner.h"

#include <algorithm>

#include "proxier/netfilter/restore_text.h"

namespace kpx {

namespace {

Status CommandError(const std::vector<std::string>& argv, const CommandOutput& out) {
  std::string msg = argv[0];
  for (size_t i = 1; i < argv.size() && i < 12; ++i) msg += " " + argv[i];
  msg += ": exit " + std::to_string(out.exit_code);
  if (!out.err.empty()) msg += ": " + out.err.substr(0, 2000);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  return Status::Error(msg);
}

}  // namespace

ExecIptablesRunner::ExecIptablesRunner(IptablesFlavor flavor,
                                       std::shared_ptr<CommandExecutor> executor)
    : flavor_(flavor), executor_(std::move(executor)) {}

std::string_view ExecIptablesRunner::Name() const {
  switch (flavor_) {
    case IptablesFlavor::kSystem:
      return "iptables";
    case IptablesFlavor::kNft:
      return "iptables-nft";
    case IptablesFlavor::kLegacy:
      return "iptables-legacy";
  }
  return "iptables";
}

std::string ExecIptablesRunner::Binary(IpFamily family, std::string_view tool) const {
  std::string name = family == IpFamily::kIPv4 ? "iptables" : "ip6tables";
  if (flavor_ == IptablesFlavor::kNft) name += "-nft";
  if (flavor_ == IptablesFlavor::kLegacy) name += "-legacy";
  return name + std::string(tool);
}

Result<CommandOutput> ExecIptablesRunner::Iptables(IpFamily family, std::vector<std::string> args) {
  std::vector<std::string> argv = {Binary(family, ""), "-w", "5"};
  argv.insert(argv.end(), args.begin(), args.end());
  return executor_->Run(argv, "");
}

Status ExecIptablesRunner::Restore(IpFamily family, std::string_view text) {
  const std::vector<std::string> argv = {Binary(family, "-restore"), "-w", "5", "--noflush",
                                         "--counters"};
  auto out = executor_->Run(argv, text);
  if (!out.ok()) return out.status();
  if (out->exit_code != 0) return CommandError(argv, *out);
  return Status::Ok();
}

Result<std::string> ExecIptablesRunner::Save(IpFamily family, std::string_view table) {
  const std::vector<std::string> argv = {Binary(family, "-save"), "-t", std::string(table)};
  auto out = executor_->Run(argv, "");
  if (!out.ok()) return out.status();
  if (out->exit_code != 0) return CommandError(argv, *out);
  return std::move(out.value().out);
}

Result<bool> ExecIptablesRunner::Check(IpFamily family, const JumpRule& rule) {
  std::vector<std::string> args = {"-t", rule.table, "-C", rule.chain};
  for (auto& a : rule.RuleArgs()) args.push_back(std::move(a));
  auto out = Iptables(family, args);
  if (!out.ok()) return out.status();
  if (out->exit_code == 0) return true;
  // 1: no such rule. Anything else (missing target chain, bad match) is an error, except that a
  // check against a chain that does not exist yet simply means "not there".
  if (out->exit_code == 1) return false;
  if (out->err.find("No chain/target/match by that name") != std::string::npos ||
      out->err.find("Couldn't load target") != std::string::npos ||
      out->err.find("does not exist") != std::string::npos) {
    return false;
  }
  return CommandError({Binary(family, ""), "-C", rule.chain}, *out);
}

Result<bool> ExecIptablesRunner::EnsureJump(IpFamily family, const JumpRule& rule) {
  auto created = Iptables(family, {"-t", rule.table, "-N", rule.target});
  if (!created.ok()) return created.status();
  if (created->exit_code != 0 && created->err.find("exists") == std::string::npos) {
    return CommandError({Binary(family, ""), "-N", rule.target}, *created);
  }
  auto exists = Check(family, rule);
  if (!exists.ok() || *exists) return exists.ok() ? Result<bool>(false) : exists;
  std::vector<std::string> args = {"-t", rule.table, rule.prepend ? "-I" : "-A", rule.chain};
  for (auto& a : rule.RuleArgs()) args.push_back(std::move(a));
  auto out = Iptables(family, args);
  if (!out.ok()) return out.status();
  if (out->exit_code != 0) return CommandError({Binary(family, ""), args[2], rule.chain}, *out);
  return true;
}

Result<bool> ExecIptablesRunner::DeleteJump(IpFamily family, const JumpRule& rule) {
  bool found = false;
  // Several copies may exist (an older kube-proxy, a crash between check and insert).
  for (int i = 0; i < 16; ++i) {
    auto exists = Check(family, rule);
    if (!exists.ok()) return exists;
    if (!*exists) return found;
    std::vector<std::string> args = {"-t", rule.table, "-D", rule.chain};
    for (auto& a : rule.RuleArgs()) args.push_back(std::move(a));
    auto out = Iptables(family, args);
    if (!out.ok()) return out.status();
    if (out->exit_code != 0) return CommandError({Binary(family, ""), "-D", rule.chain}, *out);
    found = true;
  }
  return found;
}

Status ExecIptablesRunner::DeleteChains(IpFamily family, std::string_view table,
                                        const std::vector<std::string>& chains) {
  auto saved = Save(family, table);
  if (!saved.ok()) return saved.status();
  const std::vector<std::string> existing = RestoreText::ChainNames(*saved, table);
  std::vector<std::string> present;
  for (const auto& c : chains) {
    if (std::find(existing.begin(), existing.end(), c) != existing.end()) present.push_back(c);
  }
  if (present.empty()) return Status::Ok();
  // One restore: declaring flushes every chain first, so references among them are gone
  // before the deletes.
  std::string text = "*" + std::string(table) + "\n";
  for (const auto& c : present) text += ":" + c + " - [0:0]\n";
  for (const auto& c : present) text += "-X " + c + "\n";
  text += "COMMIT\n";
  return Restore(family, text);
}

}  // namespace kpx
