#include "proxier/nftables/nft_dataplane_factory.h"

#include "proxier/netfilter/netlink_conntrack.h"
#include "proxier/nftables/netlink_nft_handle.h"
#include "proxier/nftables/nft_dataplane.h"

namespace kpx {

Result<std::unique_ptr<Dataplane>> NewNftDataplane(const NftOptions& options) {
  auto handle = std::make_unique<NetlinkNftHandle>();
  if (Status st = handle->Open(options.max_batch_bytes); !st.ok()) return st;
  return std::unique_ptr<Dataplane>(std::make_unique<NftDataplane>(
      options, std::move(handle), std::make_unique<NetlinkConntrack>()));
}

}  // namespace kpx
