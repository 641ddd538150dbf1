#include "proxier/netfilter/fake_iptables_runner.h"

#include <algorithm>

#include "proxier/netfilter/restore_text.h"

namespace kpx {

namespace {

const std::vector<std::string>& BuiltinChains(std::string_view table) {
  static const std::vector<std::string> kNat = {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"};
  static const std::vector<std::string> kFilter = {"INPUT", "FORWARD", "OUTPUT"};
  static const std::vector<std::string> kMangle = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT",
                                                   "POSTROUTING"};
  static const std::vector<std::string> kNone;
  if (table == "nat") return kNat;
  if (table == "filter") return kFilter;
  if (table == "mangle") return kMangle;
  return kNone;
}

bool IsBuiltinTarget(const std::string& t) { return t == "ACCEPT" || t == "DROP" || t == "RETURN"; }

bool References(const FakeIptablesRunner::Table& table, const std::string& chain) {
  for (const auto& [name, c] : table) {
    for (const auto& r : c.rules) {
      if (r.spec.target == chain) return true;
    }
  }
  return false;
}

FakeIptablesRunner::Table NewTable(std::string_view name) {
  FakeIptablesRunner::Table t;
  for (const auto& c : BuiltinChains(name)) t[c].policy = "ACCEPT";
  return t;
}

}  // namespace

FakeIptablesRunner::FakeIptablesRunner() {
  for (auto& tables : tables_) {
    for (const char* t : {"nat", "filter", "mangle"}) tables[t] = NewTable(t);
  }
}

Status FakeIptablesRunner::ValidateTable(const std::string& name, const Table& table) {
  for (const auto& [chain, c] : table) {
    for (const auto& r : c.rules) {
      const std::string& t = r.spec.target;
      if (t.empty() || IsBuiltinTarget(t)) continue;
      if (t == "DNAT" || t == "MASQUERADE" || t == "SNAT") {
        if (name != "nat") return Status::Error(t + " outside the nat table in " + chain);
        continue;
      }
      if (t == "REJECT" && name == "nat") return Status::Error("REJECT in the nat table");
      if (!r.spec.IsStandardTarget()) continue;
      if (!table.contains(t)) {
        return Status::Error("Couldn't load target `" + t + "' (jump from " + chain + ")");
      }
    }
  }
  return Status::Ok();
}

Status FakeIptablesRunner::Restore(IpFamily family, std::string_view text) {
  ++restore_calls_;
  restore_families_.push_back(family);
  if (fail_restores_ > 0) {
    --fail_restores_;
    return Status::Error("iptables-restore: injected failure");
  }
  auto parsed = RestoreText::Parse(text);
  if (!parsed.ok()) return parsed.status();
  Tables next = tables_[static_cast<int>(family)];
  for (const auto& section : parsed.value()) {
    auto it = next.find(section.name);
    if (it == next.end()) {
      if (BuiltinChains(section.name).empty()) {
        return Status::Error("can't initialize iptables table `" + section.name + "'");
      }
      it = next.emplace(section.name, NewTable(section.name)).first;
    }
    Table& table = it->second;
    for (const auto& decl : section.chains) {
      const std::string name(decl.name);
      auto c = table.find(name);
      if (c != table.end() && c->second.builtin()) {
        if (decl.policy != "-") c->second.policy = std::string(decl.policy);
      } else if (decl.policy != "-") {
        return Status::Error("line " + std::to_string(decl.line) + ": policy on user chain");
      } else if (c != table.end()) {
        c->second.rules.clear();  // --noflush: declaring a chain flushes it
      } else {
        table[name] = Chain{};
      }
    }
    for (const auto& cmd : section.commands) {
      const std::string where = "line " + std::to_string(cmd.line) + ": ";
      const std::string chain_name(cmd.chain);
      // The fake keeps its rules: their text is copied out of the restore text.
      const std::vector<std::string> args(cmd.args.begin(), cmd.args.end());
      auto c = table.find(chain_name);
      using K = RestoreCommand::Kind;
      if (cmd.kind == K::kNewChain) {
        if (c != table.end()) return Status::Error(where + "Chain already exists");
        table[chain_name] = Chain{};
        continue;
      }
      if (c == table.end()) return Status::Error(where + "No chain/target/match by that name");
      Chain& chain = c->second;
      switch (cmd.kind) {
        case K::kAppend:
        case K::kInsert: {
          auto spec = RuleSpec::Parse(args);
          if (!spec.ok()) return Status::Error(where + spec.status().message());
          Rule rule{args, std::move(spec.value())};
          if (cmd.kind == K::kAppend) {
            chain.rules.push_back(std::move(rule));
          } else {
            chain.rules.insert(chain.rules.begin(), std::move(rule));
          }
          break;
        }
        case K::kDeleteRule: {
          auto r = std::find_if(chain.rules.begin(), chain.rules.end(),
                                [&](const Rule& x) { return x.args == args; });
          if (r == chain.rules.end()) return Status::Error(where + "Bad rule");
          chain.rules.erase(r);
          break;
        }
        case K::kFlushChain:
          chain.rules.clear();
          break;
        case K::kDeleteChain:
          if (chain.builtin()) return Status::Error(where + "cannot delete built-in chain");
          if (!chain.rules.empty()) return Status::Error(where + "Directory not empty");
          if (References(table, chain_name)) return Status::Error(where + "Too many links");
          table.erase(c);
          break;
        case K::kNewChain:
          break;
      }
    }
    if (Status st = ValidateTable(section.name, table); !st.ok()) return st;
  }
  tables_[static_cast<int>(family)] = std::move(next);
  restores_[static_cast<int>(family)].emplace_back(text);
  return Status::Ok();
}

Result<std::string> FakeIptablesRunner::Save(IpFamily family, std::string_view table) {
  ++save_calls_;
  const Table* t = GetTable(family, table);
  if (t == nullptr) return Status::Error("no table " + std::string(table));
  std::string out = "# Generated by fake\n*" + std::string(table) + "\n";
  for (const auto& b : BuiltinChains(table)) out += ":" + b + " " + t->at(b).policy + " [0:0]\n";
  for (const auto& [name, c] : *t) {
    if (!c.builtin()) out += ":" + name + " - [0:0]\n";
  }
  for (const auto& b : BuiltinChains(table)) {
    for (const auto& line : RuleLines(family, table, b)) out += line + "\n";
  }
  for (const auto& [name, c] : *t) {
    if (c.builtin()) continue;
    for (const auto& line : RuleLines(family, table, name)) out += line + "\n";
  }
  out += "COMMIT\n";
  return out;
}

Result<bool> FakeIptablesRunner::EnsureJump(IpFamily family, const JumpRule& rule) {
  ++ensure_calls_;
  auto& tables = tables_[static_cast<int>(family)];
  auto t = tables.find(rule.table);
  if (t == tables.end()) return Status::Error("no table " + rule.table);
  auto c = t->second.find(rule.chain);
  if (c == t->second.end()) return Status::Error("no chain " + rule.chain);
  t->second.try_emplace(rule.target);
  const std::vector<std::string> args = rule.RuleArgs();
  auto& rules = t->second.at(rule.chain).rules;
  for (const auto& r : rules) {
    if (r.args == args) return false;
  }
  auto spec = RuleSpec::Parse(args);
  if (!spec.ok()) return spec.status();
  Rule r{args, std::move(spec.value())};
  if (rule.prepend) {
    rules.insert(rules.begin(), std::move(r));
  } else {
    rules.push_back(std::move(r));
  }
  return true;
}

Result<bool> FakeIptablesRunner::DeleteJump(IpFamily family, const JumpRule& rule) {
  auto& tables = tables_[static_cast<int>(family)];
  auto t = tables.find(rule.table);
  if (t == tables.end()) return false;
  auto c = t->second.find(rule.chain);
  if (c == t->second.end()) return false;
  const std::vector<std::string> args = rule.RuleArgs();
  auto& rules = c->second.rules;
  const size_t before = rules.size();
  std::erase_if(rules, [&](const Rule& r) { return r.args == args; });
  return rules.size() != before;
}

void FakeIptablesRunner::FlushTable(IpFamily family, std::string_view table) {
  tables_[static_cast<int>(family)][std::string(table)] = NewTable(table);
}

Status FakeIptablesRunner::DeleteChains(IpFamily family, std::string_view table,
                                        const std::vector<std::string>& chains) {
  auto& tables = tables_[static_cast<int>(family)];
  auto t = tables.find(std::string(table));
  if (t == tables.end()) return Status::Ok();
  Table next = t->second;
  for (const auto& name : chains) {
    auto c = next.find(name);
    if (c != next.end() && !c->second.builtin()) c->second.rules.clear();
  }
  for (const auto& name : chains) {
    auto c = next.find(name);
    if (c == next.end() || c->second.builtin()) continue;
    if (References(next, name)) return Status::Error("chain " + name + " is still referenced");
    next.erase(c);
  }
  t->second = std::move(next);
  return Status::Ok();
}

const FakeIptablesRunner::Table* FakeIptablesRunner::GetTable(IpFamily family,
                                                              std::string_view table) const {
  const auto& tables = tables_[static_cast<int>(family)];
  auto it = tables.find(std::string(table));
  return it == tables.end() ? nullptr : &it->second;
}

const FakeIptablesRunner::Chain* FakeIptablesRunner::GetChain(IpFamily family,
                                                              std::string_view table,
                                                              std::string_view chain) const {
  const Table* t = GetTable(family, table);
  if (t == nullptr) return nullptr;
  auto it = t->find(std::string(chain));
  return it == t->end() ? nullptr : &it->second;
}

std::vector<std::string> FakeIptablesRunner::RuleLines(IpFamily family, std::string_view table,
                                                       std::string_view chain) const {
  std::vector<std::string> out;
  const Chain* c = GetChain(family, table, chain);
  if (c == nullptr) return out;
  for (const auto& r : c->rules)
    out.push_back("-A " + std::string(chain) + " " + RestoreText::Join(r.args));
  return out;
}

void FakeIptablesRunner::FlushChain(IpFamily family, std::string_view table,
                                    std::string_view chain) {
  auto& tables = tables_[static_cast<int>(family)];
  auto t = tables.find(std::string(table));
  if (t == tables.end()) return;
  auto c = t->second.find(std::string(chain));
  if (c != t->second.end()) c->second.rules.clear();
}

Status FakeIptablesRunner::AppendRule(IpFamily family, std::string_view table,
                                      std::string_view chain,
                                      const std::vector<std::string>& args) {
  auto spec = RuleSpec::Parse(args);
  if (!spec.ok()) return spec.status();
  auto& tables = tables_[static_cast<int>(family)];
  auto& t = tables[std::string(table)];
  t[std::string(chain)].rules.push_back(Rule{args, std::move(spec.value())});
  return Status::Ok();
}

}  // namespace kpx
