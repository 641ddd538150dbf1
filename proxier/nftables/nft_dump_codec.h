#pragma once

#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

#include "proxier/nftables/nft_handle.h"

namespace kpx {

// Conversions from libnftnl objects (parsed from the kernel's dump or from a batch the fake
// received) to the neutral dump, shared by NetlinkNftHandle and FakeNftHandle.
NftChainDump NftChainDumpOf(const nftnl_chain* chain);
NftSetSpec NftSetSpecOf(const nftnl_set* set);
NftValue NftValueOf(nftnl_set_elem* element, bool* has_key, std::string* key);

}  // namespace kpx
