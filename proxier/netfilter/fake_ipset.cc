#include "proxier/netfilter/fake_ipset.h"

#include <sstream>

namespace kpx {

Status FakeIpset::Restore(std::string_view text) {
  if (fail_restores_ > 0) {
    --fail_restores_;
    return Status::Error("ipset restore: injected failure");
  }
  // Applied to a copy: the caller sees all of it or, on a bad line, the state before the bad line
  // -- which is what ipset does; the copy just keeps the fake simple.
  auto sets = sets_;
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
    if (cmd == "create") {
      Set s;
      words >> s.type;
      std::getline(words, s.options);
      auto it = sets.find(name);
      if (it != sets.end() && it->second.type != s.type) {
        return Status::Error(where + "set " + name + " exists with another type");
      }
      if (it == sets.end()) sets[name] = s;
      continue;
    }
    auto it = sets.find(name);
    if (it == sets.end()) return Status::Error(where + "set " + name + " does not exist");
    std::string entry;
    words >> entry;
    if (cmd == "add") {
      it->second.entries.insert(entry);
    } else if (cmd == "del") {
      it->second.entries.erase(entry);
    } else if (cmd == "flush") {
      it->second.entries.clear();
    } else if (cmd == "destroy") {
      if (referenced_.count(name)) return Status::Error(where + "set " + name + " is in use");
      sets.erase(it);
    } else {
      return Status::Error(where + "unknown command " + cmd);
    }
  }
  sets_ = std::move(sets);
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
