#include "proxier/nftables/nft_dataplane_factory.h"

#include "proxier/netfilter/exec_conntrack.h"
#include "proxier/netfilter/subprocess_executor.h"
#include "proxier/nftables/netlink_nft_handle.h"
#include "proxier/nftables/nft_dataplane.h"

namespace kpx {

Result<std::unique_ptr<Dataplane>> NewNftDataplane(const NftOptions& options) {
  auto handle = std::make_unique<NetlinkNftHandle>();
  if (Status st = handle->Open(options.max_batch_bytes); !st.ok()) return st;
  auto executor = std::make_shared<SubprocessExecutor>();
  return std::unique_ptr<Dataplane>(std::make_unique<NftDataplane>(
      options, std::move(handle), std::make_unique<ExecConntrack>(executor)));
}

}  // namespace kpx
