#include "cmd/flag_set.h"

#include <charconv>
#include <sstream>
#include <stdexcept>

#include "cmd/duration.h"

namespace kpx {

namespace {

std::vector<std::string> SplitComma(const std::string& v) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(v);
  while (std::getline(in, cur, ',')) {
    if (!cur.empty()) out.push_back(cur);
  }
  return out;
}

}  // namespace

void FlagSet::Add(const std::string& name, Flag flag) {
  if (!flags_.emplace(name, std::move(flag)).second) {
    throw std::logic_error("flag --" + name + " defined twice");
  }
}

void FlagSet::String(const std::string& name, std::string* target, const std::string& help) {
  Add(name, {help, false, *target, [target](const std::string& v, bool) {
               *target = v;
               return Status::Ok();
             }});
}

void FlagSet::Bool(const std::string& name, bool* target, const std::string& help) {
  Add(name, {help, true, *target ? "true" : "false", [target, name](const std::string& v, bool) {
               if (v == "true" || v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "True") {
                 *target = true;
               } else if (v == "false" || v == "0" || v == "f" || v == "F" || v == "FALSE" ||
                          v == "False") {
                 *target = false;
               } else {
                 return Status::Error("invalid boolean \"" + v + "\" for --" + name);
               }
               return Status::Ok();
             }});
}

void FlagSet::Int(const std::string& name, int32_t* target, const std::string& help) {
  Add(name, {help, false, std::to_string(*target), [target, name](const std::string& v, bool) {
               int32_t out = 0;
               auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
               if (ec != std::errc() || p != v.data() + v.size()) {
                 return Status::Error("invalid integer \"" + v + "\" for --" + name);
               }
               *target = out;
               return Status::Ok();
             }});
}

void FlagSet::Duration(const std::string& name, std::chrono::milliseconds* target,
                       const std::string& help) {
  Add(name, {help, false, FormatGoDuration(*target), [target, name](const std::string& v, bool) {
               auto d = ParseGoDuration(v);
               if (!d) {
                 return Status::Error("invalid duration \"" + v + "\" for --" + name +
                                      " (want e.g. 30s, 1m, 250ms)");
               }
               *target = *d;
               return Status::Ok();
             }});
}

void FlagSet::StringList(const std::string& name, std::vector<std::string>* target,
                         const std::string& help) {
  std::string def;
  for (const auto& s : *target) def += (def.empty() ? "" : ",") + s;
  // The first use on the command line replaces the default; later ones append.
  Add(name, {help, false, def, [target](const std::string& v, bool first) {
               if (first) target->clear();
               for (auto& s : SplitComma(v)) target->push_back(std::move(s));
               return Status::Ok();
             }});
}

void FlagSet::Float(const std::string& name, float* target, const std::string& help) {
  std::ostringstream def;
  def << *target;
  Add(name, {help, false, def.str(), [target, name](const std::string& v, bool) {
               float out = 0;
               auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
               if (ec != std::errc() || p != v.data() + v.size()) {
                 return Status::Error("invalid number \"" + v + "\" for --" + name);
               }
               *target = out;
               return Status::Ok();
             }});
}

void FlagSet::Func(const std::string& name, bool is_bool, const std::string& default_text,
                   std::function<Status(const std::string& value)> set, const std::string& help) {
  Add(name, {help, is_bool, default_text,
             [set = std::move(set)](const std::string& v, bool) { return set(v); }});
}

void FlagSet::Shorthand(char letter, const std::string& name) {
  if (!flags_.contains(name)) throw std::logic_error("shorthand of unknown flag --" + name);
  shorthands_[letter] = name;
}

void FlagSet::Alias(const std::string& alias, const std::string& name) {
  if (!flags_.contains(name)) throw std::logic_error("alias of unknown flag --" + name);
  aliases_[alias] = name;
}

Status FlagSet::Parse(int argc, const char* const* argv) {
  std::set<std::string> seen;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      if (i + 1 < argc) return Status::Error(std::string("unexpected argument ") + argv[i + 1]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return Status::Error("unexpected argument \"" + arg + "\" (kpx takes flags only)");
    }
    const bool single_dash = arg[1] != '-';
    arg = arg.substr(single_dash ? 1 : 2);
    std::string name = arg;
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (single_dash && name.size() == 1) {
      if (auto s = shorthands_.find(name[0]); s != shorthands_.end()) name = s->second;
    }
    if (auto a = aliases_.find(name); a != aliases_.end()) name = a->second;
    auto it = flags_.find(name);
    if (it == flags_.end()) return Status::Error("unknown flag: --" + name);
    if (!has_value) {
      if (it->second.is_bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return Status::Error("flag needs an argument: --" + name);
      }
    }
    if (Status st = it->second.set(value, seen.insert(name).second); !st.ok()) return st;
    set_.insert(name);
  }
  return Status::Ok();
}

std::string FlagSet::Usage() const {
  std::ostringstream os;
  os << "Usage: kpx [flags]\n\nFlags:\n";
  for (const auto& [name, f] : flags_) {
    os << "  --" << name << (f.is_bool ? "" : " value") << "\n      " << f.help;
    if (!f.default_text.empty()) os << " (default " << f.default_text << ")";
    os << "\n";
  }
  for (const auto& [letter, name] : shorthands_) {
    os << "  -" << letter << "\n      Same as --" << name << ".\n";
  }
  for (const auto& [alias, name] : aliases_) {
    os << "  --" << alias << "\n      Same as --" << name << ".\n";
  }
  return os.str();
}

}  // namespace kpx
