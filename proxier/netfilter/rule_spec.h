#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kpx {

// The parsed rule's text is either owned (Str = std::string: the stateful fake and the tests'
// packet tracer keep rules for their lifetime) or viewed (Str = std::string_view: the libiptc
// runner encodes each of a full sync's 320 000 rules once, straight from the restore text,
// without copying a token).

// One option of a match or target, e.g. "! --mark 0x4000/0x4000" or "--set".
template <typename Str>
struct BasicRuleOption {
  Str name;  // with dashes: "--dport"
  std::vector<Str> values;
  bool negated = false;
  const Str& value() const {
    static const Str kEmpty;
    return values.empty() ? kEmpty : values.front();
  }
};

// A "-m module" and its options, in the order given.
template <typename Str>
struct BasicRuleMatch {
  Str module;
  std::vector<BasicRuleOption<Str>> options;
  const BasicRuleOption<Str>* Find(std::string_view name) const;
};

// A negatable value of the base ip header match: "-s", "-d", "-p", "-i", "-o".
template <typename Str>
struct BasicRuleField {
  Str value;
  bool negated = false;
};

// The arguments of one rule ("-A CHAIN <args>"), parsed into the base header match, the extension
// matches and the target. Covers the iptables syntax kpx emits and iptables-save prints for it;
// the libiptc runner, the stateful fake and the tests' packet tracer all read rules through it.
// A viewing spec points into the arguments it was parsed from, which must outlive it.
template <typename Str>
struct BasicRuleSpec {
  std::optional<BasicRuleField<Str>> source, destination, protocol, in_interface, out_interface;
  std::vector<BasicRuleMatch<Str>> matches;
  Str target;  // "" when the rule has no target (it only counts)
  bool is_goto = false;
  std::vector<BasicRuleOption<Str>> target_options;

  static Result<BasicRuleSpec> Parse(std::span<const Str> args);
  static Result<BasicRuleSpec> Parse(const std::vector<Str>& args) {
    return Parse(std::span<const Str>(args));
  }
  const BasicRuleMatch<Str>* FindMatch(std::string_view module) const;
  const BasicRuleOption<Str>* FindTargetOption(std::string_view name) const;
  bool IsStandardTarget() const;  // ACCEPT, DROP, RETURN or a chain
};

using RuleOption = BasicRuleOption<std::string>;
using RuleMatch = BasicRuleMatch<std::string>;
using RuleField = BasicRuleField<std::string>;
using RuleSpec = BasicRuleSpec<std::string>;
using RuleSpecView = BasicRuleSpec<std::string_view>;

extern template struct BasicRuleMatch<std::string>;
extern template struct BasicRuleMatch<std::string_view>;
extern template struct BasicRuleSpec<std::string>;
extern template struct BasicRuleSpec<std::string_view>;

}  // namespace kpx
