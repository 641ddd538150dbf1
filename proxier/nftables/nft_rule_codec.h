#pragma once

#include <libnftnl/rule.h>

#include <memory>
#include <string>

#include "proxier/nftables/nft_layout.h"

namespace kpx {

struct NftRuleDeleter {
  void operator()(nftnl_rule* r) const { nftnl_rule_free(r); }
};
using NftRulePtr = std::unique_ptr<nftnl_rule, NftRuleDeleter>;

// Pure: a libnftnl rule object for `spec` in `table`/`chain`.
NftRulePtr BuildNftRule(const std::string& table, const std::string& chain,
                        const NftRuleSpec& spec);

// The rule's expressions as libnftnl prints them ("[ payload load 4b @ network header + 16 =>
// reg 8 ] ..."), without handle or position: what kpx compares between what it wants and what
// a dump of the kernel (or the fake) holds.
std::string NftRuleText(const nftnl_rule* rule);

}  // namespace kpx
