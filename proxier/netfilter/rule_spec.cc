#include "proxier/netfilter/rule_spec.h"

#include <algorithm>
#include <cstdint>

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
  if (Status st = ParseInto(args, spec); !st.ok()) return st;
  return spec;
}

template <typename Str>
Status BasicRuleSpec<Str>::ParseInto(std::span<const Str> args, BasicRuleSpec& spec) {
  constexpr bool kViews = kRuleSpecViews<Str>;
  spec.source.reset();
  spec.destination.reset();
  spec.protocol.reset();
  spec.in_interface.reset();
  spec.out_interface.reset();
  spec.matches.clear();
  spec.target = Str();
  spec.is_goto = false;
  spec.target_options = {};
  spec.option_storage_.clear();
  // Viewing specs collect every option in option_storage_, each match's (then the target's)
  // one after another, and point the spans at them once the array stops growing.
  size_t target_first = SIZE_MAX;
  auto add_option = [&](BasicRuleOption<Str>&& opt, bool to_target) {
    if constexpr (kViews) {
      if (to_target && target_first == SIZE_MAX) target_first = spec.option_storage_.size();
      spec.option_storage_.push_back(std::move(opt));
    } else {
      (to_target ? spec.target_options : spec.matches.back().options).push_back(std::move(opt));
    }
  };
  std::vector<size_t>& match_first = MatchFirst();
  match_first.clear();
  auto add_match = [&](Str module) {
    spec.matches.push_back(BasicRuleMatch<Str>{module, {}});
    if constexpr (kViews) match_first.push_back(spec.option_storage_.size());
  };
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
      add_match(args[++i]);
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
      size_t n = 0;
      while (i + 1 + n < args.size() && IsValueToken(args[i + 1 + n])) ++n;
      if constexpr (kViews) {
        opt.values = args.subspan(i + 1, n);
      } else {
        opt.values.assign(args.begin() + static_cast<std::ptrdiff_t>(i + 1),
                          args.begin() + static_cast<std::ptrdiff_t>(i + 1 + n));
      }
      i += n;
      if (in_target) {
        add_option(std::move(opt), true);
      } else if (!spec.matches.empty()) {
        add_option(std::move(opt), false);
      } else if (spec.protocol && (a == "--dport" || a == "--sport" || a == "--destination-port" ||
                                   a == "--source-port")) {
        add_match(spec.protocol->value);
        add_option(std::move(opt), false);
      } else {
        return Status::Error("option " + std::string(a) + " outside any match");
      }
    } else {
      return Status::Error("unexpected argument '" + std::string(a) + "'");
    }
    if (!st.ok()) return st;
  }
  if (negate_next) return Status::Error("dangling '!'");
  if constexpr (kViews) {
    const auto* options = spec.option_storage_.data();
    const size_t end = std::min(target_first, spec.option_storage_.size());
    for (size_t m = 0; m < spec.matches.size(); ++m) {
      const size_t to = m + 1 < spec.matches.size() ? match_first[m + 1] : end;
      spec.matches[m].options = {options + match_first[m], to - match_first[m]};
    }
    if (target_first != SIZE_MAX) {
      spec.target_options = {options + target_first, spec.option_storage_.size() - target_first};
    }
  }
  return Status::Ok();
}

template <typename Str>
std::vector<size_t>& BasicRuleSpec<Str>::MatchFirst() {
  // Where each match's options start in option_storage_, while a spec is parsed: a scratch
  // array per thread, so that parsing into a reused spec allocates nothing.
  thread_local std::vector<size_t> first;
  return first;
}

template struct BasicRuleMatch<std::string>;
template struct BasicRuleMatch<std::string_view>;
template struct BasicRuleSpec<std::string>;
template struct BasicRuleSpec<std::string_view>;

}  // namespace kpx
