#include "proxier/netfilter/rule_spec.h"

namespace kpx {

namespace {

bool IsValueToken(std::string_view t) { return !t.empty() && t[0] != '-' && t != "!"; }

}  // namespace

template <typename Str>
const BasicRuleOption<Str>* BasicRuleMatch<Str>::Find(std::string_view name) const {
  for (const auto& o : options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

template <typename Str>
const BasicRuleMatch<Str>* BasicRuleSpec<Str>::FindMatch(std::string_view module) const {
  for (const auto& m : matches) {
    if (m.module == module) return &m;
  }
  return nullptr;
}

template <typename Str>
const BasicRuleOption<Str>* BasicRuleSpec<Str>::FindTargetOption(std::string_view name) const {
  for (const auto& o : target_options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

template <typename Str>
bool BasicRuleSpec<Str>::IsStandardTarget() const {
  if (target.empty()) return false;
  if (target == "ACCEPT" || target == "DROP" || target == "RETURN") return true;
  for (const char* ext :
       {"DNAT", "SNAT", "MASQUERADE", "MARK", "REJECT", "LOG", "CONNMARK", "REDIRECT"}) {
    if (target == ext) return false;
  }
  return true;
}

template <typename Str>
Result<BasicRuleSpec<Str>> BasicRuleSpec<Str>::Parse(std::span<const Str> args) {
  BasicRuleSpec spec;
  bool negate_next = false;
  // Options go to the target once one is named, else to the most recent "-m" module; port
  // options with no module yet belong to the protocol's implicit match, as in iptables.
  bool in_target = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "!") {
      if (negate_next) return Status::Error("double negation");
      negate_next = true;
      continue;
    }
    auto field = [&](std::optional<BasicRuleField<Str>>& slot) -> Status {
      if (i + 1 >= args.size()) return Status::Error(std::string(a) + " needs a value");
      if (slot) return Status::Error(std::string(a) + " given twice");
      slot = BasicRuleField<Str>{args[++i], negate_next};
      negate_next = false;
      return Status::Ok();
    };
    Status st;
    if (a == "-s" || a == "--source" || a == "--src") {
      st = field(spec.source);
    } else if (a == "-d" || a == "--destination" || a == "--dst") {
      st = field(spec.destination);
    } else if (a == "-p" || a == "--protocol") {
      st = field(spec.protocol);
    } else if (a == "-i" || a == "--in-interface") {
      st = field(spec.in_interface);
    } else if (a == "-o" || a == "--out-interface") {
      st = field(spec.out_interface);
    } else if (a == "-m" || a == "--match") {
      if (i + 1 >= args.size()) return Status::Error("-m needs a module");
      if (negate_next) return Status::Error("cannot negate -m");
      if (in_target) return Status::Error("match after target");
      spec.matches.push_back(BasicRuleMatch<Str>{args[++i], {}});
    } else if (a == "-j" || a == "--jump" || a == "-g" || a == "--goto") {
      if (i + 1 >= args.size()) return Status::Error(std::string(a) + " needs a target");
      if (!spec.target.empty()) return Status::Error("two targets");
      if (negate_next) return Status::Error("cannot negate a target");
      spec.is_goto = a == "-g" || a == "--goto";
      spec.target = args[++i];
      in_target = true;
    } else if (a.starts_with("--")) {
      BasicRuleOption<Str> opt{args[i], {}, negate_next};
      negate_next = false;
      while (i + 1 < args.size() && IsValueToken(args[i + 1])) opt.values.push_back(args[++i]);
      if (in_target) {
        spec.target_options.push_back(std::move(opt));
      } else if (!spec.matches.empty()) {
        spec.matches.back().options.push_back(std::move(opt));
      } else if (spec.protocol && (a == "--dport" || a == "--sport" || a == "--destination-port" ||
                                   a == "--source-port")) {
        spec.matches.push_back(BasicRuleMatch<Str>{spec.protocol->value, {}});
        spec.matches.back().options.push_back(std::move(opt));
      } else {
        return Status::Error("option " + std::string(a) + " outside any match");
      }
    } else {
      return Status::Error("unexpected argument '" + std::string(a) + "'");
    }
    if (!st.ok()) return st;
  }
  if (negate_next) return Status::Error("dangling '!'");
  return spec;
}

template struct BasicRuleMatch<std::string>;
template struct BasicRuleMatch<std::string_view>;
template struct BasicRuleSpec<std::string>;
template struct BasicRuleSpec<std::string_view>;

}  // namespace kpx
