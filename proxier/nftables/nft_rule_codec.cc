#include "proxier/nftables/nft_rule_codec.h"

#include <libnftnl/expr.h>

#include <stdexcept>

namespace kpx {

NftRulePtr BuildNftRule(const std::string& table, const std::string& chain,
                        const NftRuleSpec& spec) {
  NftRulePtr r(nftnl_rule_alloc());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
  for (const NftExprSpec& e : spec) {
    nftnl_expr* x = nftnl_expr_alloc(e.name.c_str());
    // Expression names are fixed in kpx's layout: an unknown one is a programming error.
    if (x == nullptr) throw std::logic_error("libnftnl has no expression \"" + e.name + "\"");
    for (const auto& [attr, v] : e.u32s) nftnl_expr_set_u32(x, attr, v);
    for (const auto& [attr, v] : e.u64s) nftnl_expr_set_u64(x, attr, v);
    for (const auto& [attr, v] : e.strs) nftnl_expr_set_str(x, attr, v.c_str());
    for (const auto& [attr, v] : e.bytes) {
      nftnl_expr_set(x, attr, v.data(), static_cast<uint32_t>(v.size()));
    }
    nftnl_rule_add_expr(r.get(), x);
  }
  return r;
}

std::string NftRuleText(const nftnl_rule* rule) {
  std::string out;
  nftnl_expr_iter* it = nftnl_expr_iter_create(rule);
  char buf[1024];
  for (nftnl_expr* e = nftnl_expr_iter_next(it); e != nullptr; e = nftnl_expr_iter_next(it)) {
    nftnl_expr_snprintf(buf, sizeof(buf), e, NFTNL_OUTPUT_DEFAULT, 0);
    if (!out.empty()) out += ' ';
    out += '[';
    out += buf;
    out += ']';
  }
  nftnl_expr_iter_destroy(it);
  return out;
}

}  // namespace kpx
