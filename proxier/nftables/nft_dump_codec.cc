#include "proxier/nftables/nft_dump_codec.h"

#include <linux/netfilter/nf_tables.h>

namespace kpx {

NftChainDump NftChainDumpOf(const nftnl_chain* chain) {
  NftChainDump d;
  if (nftnl_chain_is_set(chain, NFTNL_CHAIN_HOOKNUM)) {
    d.hook = nftnl_chain_get_u32(chain, NFTNL_CHAIN_HOOKNUM);
    d.priority = nftnl_chain_get_s32(chain, NFTNL_CHAIN_PRIO);
    if (nftnl_chain_is_set(chain, NFTNL_CHAIN_TYPE)) {
      d.type = nftnl_chain_get_str(chain, NFTNL_CHAIN_TYPE);
    }
  }
  return d;
}

NftSetSpec NftSetSpecOf(const nftnl_set* set) {
  NftSetSpec s;
  s.name = nftnl_set_get_str(set, NFTNL_SET_NAME);
  auto u32 = [&](uint16_t attr) {
    return nftnl_set_is_set(set, attr) ? nftnl_set_get_u32(set, attr) : 0u;
  };
  s.flags = u32(NFTNL_SET_FLAGS);
  s.key_type = u32(NFTNL_SET_KEY_TYPE);
  s.key_len = u32(NFTNL_SET_KEY_LEN);
  s.size = u32(NFTNL_SET_DESC_SIZE);
  if (s.flags & NFT_SET_MAP) {
    s.data_type = u32(NFTNL_SET_DATA_TYPE);
    s.data_len = s.data_type == NFT_DATA_VERDICT ? 0 : u32(NFTNL_SET_DATA_LEN);
  }
  return s;
}

NftValue NftValueOf(nftnl_set_elem* e, bool* has_key, std::string* key) {
  NftValue v;
  uint32_t len = 0;
  *has_key = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY);
  if (*has_key) {
    const void* k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
    key->assign(static_cast<const char*>(k), len);
    // A range element: its key is start followed by end, as kpx writes it.
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
      const void* end = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
      key->append(static_cast<const char*>(end), len);
    }
  }
  if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
    v.is_verdict = true;
    v.verdict = static_cast<int32_t>(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT));
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN)) {
      v.chain = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
    }
  } else if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)) {
    const void* d = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);
    v.data.assign(static_cast<const char*>(d), len);
  }
  return v;
}

}  // namespace kpx
