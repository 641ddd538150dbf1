#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/status.h"

namespace kpx {

// The parsed rule's text is either owned (Str = std::string: the stateful fake and the tests'
// packet tracer keep rules for their lifetime) or viewed (Str = std::string_view: the libiptc
// runner encodes each of a full sync's 320 000 rules once, straight from the restore text). A
// viewing spec allocates nothing per rule: an option's values view the arguments, a match's
// options view the spec's one option array, and ParseInto reuses a spec's arrays.
template <typename Str>
inline constexpr bool kRuleSpecViews = std::is_same_v<Str, std::string_view>;

template <typename Str>
using RuleSpecList =
    std::conditional_t<kRuleSpecViews<Str>, std::span<const Str>, std::vector<Str>>;

// One option of a match or target, e.g. "! --mark 0x4000/0x4000" or "--set".
template <typename Str>
struct BasicRuleOption {
  Str name;  // with dashes: "--dport"
  RuleSpecList<Str> values;
  bool negated = false;
  const Str& value() const {
    static const Str kEmpty;
    return values.empty() ? kEmpty : values.front();
  }
};

// A "-m module" and its options, in the order given.
template <typename Str>
struct BasicRuleMatch {
  using Options = std::conditional_t<kRuleSpecViews<Str>, std::span<const BasicRuleOption<Str>>,
                                     std::vector<BasicRuleOption<Str>>>;
  Str module;
  Options options;
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
// A viewing spec points into the arguments it was parsed from, which must outlive it, and into
// itself: it moves but does not copy.
template <typename Str>
struct BasicRuleSpec {
  std::optional<BasicRuleField<Str>> source, destination, protocol, in_interface, out_interface;
  std::vector<BasicRuleMatch<Str>> matches;
  Str target;  // "" when the rule has no target (it only counts)
  bool is_goto = false;
  typename BasicRuleMatch<Str>::Options target_options;

  BasicRuleSpec() = default;
  BasicRuleSpec(BasicRuleSpec&&) = default;
  BasicRuleSpec& operator=(BasicRuleSpec&&) = default;
  BasicRuleSpec(const BasicRuleSpec&) requires(!kRuleSpecViews<Str>) = default;
  BasicRuleSpec& operator=(const BasicRuleSpec&) requires(!kRuleSpecViews<Str>) = default;

  static Result<BasicRuleSpec> Parse(std::span<const Str> args);
  static Result<BasicRuleSpec> Parse(const std::vector<Str>& args) {
    return Parse(std::span<const Str>(args));
  }
  // Parses into `spec`, whatever it held, reusing its arrays.
  static Status ParseInto(std::span<const Str> args, BasicRuleSpec& spec);
  const BasicRuleMatch<Str>* FindMatch(std::string_view module) const;
  const BasicRuleOption<Str>* FindTargetOption(std::string_view name) const;
  bool IsStandardTarget() const;  // ACCEPT, DROP, RETURN or a chain

 private:
  static std::vector<size_t>& MatchFirst();
  // Viewing specs: every match's and the target's options, which their spans view.
  std::vector<BasicRuleOption<Str>> option_storage_;
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
