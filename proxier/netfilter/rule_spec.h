#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace kpx {

// One option of a match or target, e.g. "! --mark 0x4000/0x4000" or "--set".
struct RuleOption {
  std::string name;  // with dashes: "--dport"
  std::vector<std::string> values;
  bool negated = false;
  const std::string& value() const {
    static const std::string kEmpty;
    return values.empty() ? kEmpty : values.front();
  }
};

// A "-m module" and its options, in the order given.
struct RuleMatch {
  std::string module;
  std::vector<RuleOption> options;
  const RuleOption* Find(std::string_view name) const;
};

// A negatable value of the base ip header match: "-s", "-d", "-p", "-i", "-o".
struct RuleField {
  std::string value;
  bool negated = false;
};

// The arguments of one rule ("-A CHAIN <args>"), parsed into the base header match, the extension
// matches and the target. Covers the iptables syntax kpx emits and iptables-save prints for it;
// the libiptc runner, the stateful fake and the tests' packet tracer all read rules through it.
struct RuleSpec {
  std::optional<RuleField> source, destination, protocol, in_interface, out_interface;
  std::vector<RuleMatch> matches;
  std::string target;  // "" when the rule has no target (it only counts)
  bool is_goto = false;
  std::vector<RuleOption> target_options;

  static Result<RuleSpec> Parse(const std::vector<std::string>& args);
  const RuleMatch* FindMatch(std::string_view module) const;
  const RuleOption* FindTargetOption(std::string_view name) const;
  bool IsStandardTarget() const;  // ACCEPT, DROP, RETURN or a chain
};

}  // namespace kpx
