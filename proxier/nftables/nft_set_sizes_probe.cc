#include "proxier/nftables/nft_set_sizes_probe.h"

#include <linux/netfilter/nf_tables.h>

#include <climits>

#include "proxier/nftables/nft_batch.h"

namespace kpx {

Result<bool> NftSetSizesUpdate(NftHandle& handle) {
  const IpFamily family = IpFamily::kIPv4;
  auto leftover = handle.Dump(family, kNftProbeTable);
  if (!leftover.ok()) return leftover.status();
  // The shape of kpx's growing sets: the flag that selects the resizable hash, no collector.
  NftSetSpec spec{"probe", NFT_SET_TIMEOUT, 0, 4, 0, 0, 1};
  spec.gc_interval_ms = UINT32_MAX;
  uint32_t seq = 1;
  auto commit = [&](NftBatch& batch) {
    Status st = handle.Commit(batch);
    seq = batch.end_seq() + 1;
    return st;
  };
  NftBatch create(seq);
  if (leftover->exists) create.DeleteTable(family, kNftProbeTable);
  create.AddTable(family, kNftProbeTable);
  create.AddSet(family, kNftProbeTable, spec);
  if (Status st = commit(create); !st.ok()) {
    // Refused as a whole: nothing was created. A kernel without these set features is a "no";
    // a socket that cannot talk to nf_tables at all fails the first sync just the same.
    return false;
  }
  spec.size = 2;
  NftBatch raise(seq);
  raise.AddSet(family, kNftProbeTable, spec);
  bool updates = false;
  if (commit(raise).ok()) {
    auto dump = handle.Dump(family, kNftProbeTable);
    if (!dump.ok()) return dump.status();
    auto s = dump->sets.find(spec.name);
    updates = s != dump->sets.end() && s->second.spec.size == 2;
  }
  NftBatch drop(seq);
  drop.DeleteTable(family, kNftProbeTable);
  if (Status st = commit(drop); !st.ok()) return st;
  return updates;
}

}  // namespace kpx
