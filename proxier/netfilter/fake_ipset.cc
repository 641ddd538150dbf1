#include "proxier/netfilter/fake_ipset.h"

#include <optional>
#include <sstream>
#include <tuple>

namespace kpx {

Status FakeIpset::Restore(std::string_view text) {
  if (fail_restores_ > 0) {
    --fail_restores_;
    return Status::Error("ipset restore: injected failure");
  }
  // All or nothing, as the caller sees it: every set a line changes is saved once before its
  // first change and put back on a bad line. (Copying all sets instead made each restore cost
  // as much as the whole state, which the per-element syncs it stands in for do not.)
  std::map<std::string, std::optional<Set>> saved;
  // Entry-level undo for big sets: only the entries a line touched are remembered.
  std::vector<std::tuple<std::string, std::string, bool>> entry_undo;  // set, entry, was present
  auto save = [&](const std::string& name) {
    if (saved.contains(name)) return;
    auto it = sets_.find(name);
    if (it == sets_.end()) {
      saved.emplace(name, std::nullopt);
      return;
    }
    // The set as it was before this restore: earlier add/del lines undone on the copy.
    Set before = it->second;
    for (auto u = entry_undo.rbegin(); u != entry_undo.rend(); ++u) {
      const auto& [set, entry, present] = *u;
      if (set != name) continue;
      if (present) {
        before.entries.insert(entry);
      } else {
        before.entries.erase(entry);
      }
    }
    saved.emplace(name, std::move(before));
  };
  auto rollback = [&] {
    for (auto it = entry_undo.rbegin(); it != entry_undo.rend(); ++it) {
      const auto& [name, entry, present] = *it;
      if (saved.contains(name)) continue;  // restored whole below
      auto& entries = sets_[name].entries;
      if (present) {
        entries.insert(entry);
      } else {
        entries.erase(entry);
      }
    }
    for (auto& [name, set] : saved) {
      if (set) {
        sets_[name] = std::move(*set);
      } else {
        sets_.erase(name);
      }
    }
  };
  std::istringstream in{std::string(text)};
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    std::istringstream words(line);
    std::string cmd, name;
    words >> cmd >> name;
    const std::string where = "ipset restore line " + std::to_string(n) + ": ";
    auto error = [&](const std::string& message) {
      rollback();
      return Status::Error(where + message);
    };
    if (cmd == "create") {
      Set s;
      words >> s.type;
      std::getline(words, s.options);
      auto it = sets_.find(name);
      if (it != sets_.end() && it->second.type != s.type) {
        return error("set " + name + " exists with another type");
      }
      if (it == sets_.end()) {
        save(name);
        sets_[name] = s;
      }
      continue;
    }
    auto it = sets_.find(name);
    if (it == sets_.end()) return error("set " + name + " does not exist");
    std::string entry;
    words >> entry;
    if (cmd == "add") {
      if (it->second.entries.insert(entry).second) entry_undo.emplace_back(name, entry, false);
    } else if (cmd == "del") {
      if (it->second.entries.erase(entry) > 0) entry_undo.emplace_back(name, entry, true);
    } else if (cmd == "flush") {
      save(name);
      it->second.entries.clear();
    } else if (cmd == "destroy") {
      if (referenced_.count(name)) return error("set " + name + " is in use");
      save(name);
      sets_.erase(it);
    } else {
      return error("unknown command " + cmd);
    }
  }
  restores_.push_back(std::string(text));
  return Status::Ok();
}

Result<std::string> FakeIpset::Save() {
  std::string out;
  for (const auto& [name, s] : sets_) {
    out += "create " + name + " " + s.type + s.options + "\n";
    for (const auto& e : s.entries) out += "add " + name + " " + e + "\n";
  }
  return out;
}

Status FakeIpset::Destroy(const std::string& name) {
  if (referenced_.count(name)) return Status::Error("ipset destroy " + name + ": in use");
  sets_.erase(name);
  return Status::Ok();
}

const FakeIpset::Set* FakeIpset::Find(const std::string& name) const {
  auto it = sets_.find(name);
  return it == sets_.end() ? nullptr : &it->second;
}

void FakeIpset::SetReferenced(const std::string& name, bool referenced) {
  if (referenced) {
    referenced_.insert(name);
  } else {
    referenced_.erase(name);
  }
}

}  // namespace kpx
