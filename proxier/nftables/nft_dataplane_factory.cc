#include "proxier/nftables/nft_dataplane_factory.h"

#include <glog/logging.h>

#include "proxier/netfilter/netlink_conntrack.h"
#include "proxier/nftables/netlink_nft_handle.h"
#include "proxier/nftables/nft_dataplane.h"
#include "proxier/nftables/nft_set_sizes_probe.h"

namespace kpx {

Result<std::unique_ptr<Dataplane>> NewNftDataplane(const NftOptions& options) {
  auto handle = std::make_unique<NetlinkNftHandle>();
  if (Status st = handle->Open(options.max_batch_bytes); !st.ok()) return st;
  NftOptions o = options;
  auto sizes = NftSetSizesUpdate(*handle);
  if (!sizes.ok()) {
    LOG(WARNING) << "nftables: cannot tell whether this kernel raises set sizes ("
                 << sizes.status().message() << "); sets are left unsized";
  }
  o.set_sizes_update = sizes.ok() && *sizes;
  LOG(INFO) << "nftables: "
            << (o.set_sizes_update
                    ? "the kernel raises set sizes in place: growing sets are sized ahead"
                    : "the kernel cannot raise a set's size (Linux < 6.5): sets are unsized");
  return std::unique_ptr<Dataplane>(
      std::make_unique<NftDataplane>(o, std::move(handle), std::make_unique<NetlinkConntrack>()));
}

}  // namespace kpx
