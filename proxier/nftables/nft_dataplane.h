#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "proxier/dataplane.h"
#include "proxier/netfilter/conntrack.h"
#include "proxier/netfilter/conntrack_cleaner.h"
#include "proxier/nftables/nft_claim_set.h"
#include "proxier/nftables/nft_elements.h"
#include "proxier/nftables/nft_handle.h"
#include "proxier/nftables/nft_id_index.h"
#include "proxier/nftables/nft_layout.h"
#include "proxier/nftables/nft_options.h"

namespace kpx {

struct NftCounters {
  uint64_t syncs = 0;
  uint64_t full_syncs = 0;
  uint64_t partial_syncs = 0;
  uint64_t transactions = 0;
  uint64_t transaction_failures = 0;
  uint64_t messages = 0;          // netlink messages committed, all transactions
  uint64_t elements_written = 0;  // elements added or deleted, all transactions
  uint64_t rules_written = 0;     // rules (re)written, all transactions
  uint64_t conntrack_deletions = 0;
  uint64_t conntrack_failures = 0;
  uint64_t affinity_pruned = 0;  // stale ClientIP affinity entries deleted
  uint64_t set_size_raises = 0;  // growing sets whose declared size was raised
  size_t last_sync_messages = 0;
  size_t last_sync_bytes = 0;
  size_t last_sync_elements = 0;
  std::chrono::nanoseconds last_commit_duration{0};
  // Where the last full sync's time went: reading the table, computing the desired elements,
  // encoding netlink messages, and the kernel applying them (sendmsg to ACK, all transactions).
  struct Phases {
    std::chrono::nanoseconds dump{0}, compute{0}, encode{0}, kernel{0};
    std::chrono::nanoseconds compute_cpu{0};  // this thread's CPU time in compute
    // This thread's CPU time building messages: the time after compute, less the CPU spent in
    // the commits (sendmsg runs the kernel's side in this thread).
    std::chrono::nanoseconds encode_cpu{0};
  } last_full_sync;
  std::array<size_t, 2> elements{};  // held in the kernel, by IpFamily
  std::array<size_t, 2> chains{};
  std::array<size_t, 2> sets{};
};

// The nftables mode: one table per family ("ip kpx", "ip6 kpx") with a fixed set of chains and
// maps (see BuildNftLayout); every Service is a handful of map elements.
//  - Full syncs (the first, after any failure, on request, when the Node changes) dump the table
//    and write only the difference: a restart adopts what is there (service ids are read back
//    from the service-ids map), and drift (a deleted element, chain or rule) is repaired.
//  - Partial syncs recompute the elements of the service ports in state.changed only, and send
//    one transaction with exactly the elements whose value changed.
//  - Every transaction is bounded by options.max_batch_bytes.
//  - UDP conntrack entries pointing at removed endpoints are deleted after a successful commit.
// Not thread-safe: called from the sync runner's thread only.
class NftDataplane : public Dataplane {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  NftDataplane(NftOptions options, std::unique_ptr<NftHandle> handle,
               std::unique_ptr<Conntrack> conntrack, Clock clock = nullptr);

  std::string_view Name() const override { return "nftables"; }
  Status Apply(const DesiredState& state, bool full) override;
  Status Cleanup() override;
  void RecordMetrics(MetricsRegistry& metrics) const override;

  const NftCounters& counters() const { return counters_; }
  NftHandle& handle() { return *handle_; }

 private:
  // The owner of shared elements: the stored name of its entry in FamilyState::ids, which stays
  // where it is as long as the port has an id, i.e. as long as it has claims (nullptr: the
  // node's own elements).
  using Owner = NftClaimSet::Owner;
  struct FamilyState {
    bool needs_full = true;
    bool adopted = false;  // ids read back from the kernel once
    NftIdIndex ids;
    // Bit id/kIdStep for every id in use: a few KiB where a std::set took 48 bytes an id. Ids
    // read back from the kernel above kMaxAdoptedId are not adopted, so it stays small.
    std::vector<bool> used_ids;
    uint32_t next_id = nft::kIdStep;
    // Elements of the sets several owners may claim (dispatch keys, hairpin pairs, firewall
    // entries, node addresses), with every claim, by set name. Elements of the per-id sets
    // (endpoints, endpoint-sets, affinity) belong to one service port alone and are not kept:
    // a partial sync recomputes a port's previous elements from the previous snapshot, which
    // the dataplane holds anyway. At 100 000 x 10 that is 1.3 M elements not stored twice.
    std::map<std::string, NftClaimSet> shared;
    size_t exclusive_elements = 0;  // held in the per-id sets (for the elements gauge)
    // sessionAffinity timeouts of the ports with ClientIP affinity; the distinct values shape
    // the layout (one recording chain each).
    std::map<ServicePortName, uint32_t> affinity_timeouts;
    std::set<uint32_t> layout_timeouts;  // as last written to the kernel
    // The growing sets (NftSetSpec::grows) as the kernel holds them after the last sync: the
    // spec with the declared size (0: unbounded) and the element count, so that a partial sync
    // raises a size before it adds past it.
    struct Fill {
      NftSetSpec spec;
      size_t count = 0;
    };
    std::map<std::string, Fill> growing;
  };
  static std::set<uint32_t> Distinct(const std::map<ServicePortName, uint32_t>& timeouts);

  Status ApplyFamily(IpFamily family, const DesiredState& state, bool full);
  Status FullSync(IpFamily family, const DesiredState& state);
  Status PartialSync(IpFamily family, const DesiredState& state);
  uint32_t IdFor(FamilyState& fs, const ServicePortName& name);
  void ReleaseId(FamilyState& fs, const ServicePortName& name);
  // One key touched by a partial sync: its value in the kernel before (nullopt: absent) and, for
  // per-id sets, after (shared sets take theirs from the claims once every owner is done).
  struct Delta {
    std::optional<NftValue> was, now;
  };
  using Changes = std::map<std::string, std::map<std::string, Delta>>;  // set -> key -> delta
  // Replaces `owner`'s elements `before` by `after`, recording every touched key in `changes`.
  void Reclaim(FamilyState& fs, Owner owner, const std::vector<NftElement>& before,
               const std::vector<NftElement>& after, Changes& changes);
  Status CommitChanges(IpFamily family, FamilyState& fs, const Changes& changes);
  // What a full sync changes in one per-id set: the dumped elements to delete, and the
  // positions of the wanted ones to add.
  struct PerIdDiff {
    NftElementList gone;
    std::vector<uint32_t> add;
  };
  // `have` (a growing set the kernel holds) with the size for `elements`.
  NftSetSpec Raised(const NftSetSpec& have, size_t elements) const;
  // Commits `batch` with the sizes of `raises` added, before any element that needs them: a
  // raised size holds for adds only once it is committed.
  Status RaiseSizes(IpFamily family, FamilyState& fs, const std::vector<NftSetSpec>& raises,
                    NftBatch& batch);
  Status Commit(NftBatch& batch);
  Status RemoveForeignTables();
  // Deletes ClientIP affinity entries of the changed ports that point at an endpoint they no
  // longer have: the packet path only refreshes an entry, it never replaces its endpoint.
  void PruneAffinity(IpFamily family, const DesiredState& state,
                     const std::set<ServicePortName>& changed);
  std::vector<IpAddress> LocalAddresses(const DesiredState& state) const;
  // Keeps `state` as the last applied snapshot (previous_), in O(changed) when it follows it.
  void Remember(const DesiredState& state);

  NftOptions options_;
  std::unique_ptr<NftHandle> handle_;
  std::unique_ptr<Conntrack> conntrack_;
  ConntrackCleaner conntrack_cleaner_;
  Clock clock_;
  std::array<FamilyState, 2> families_;
  std::optional<DesiredState> previous_;
  bool foreign_removed_ = false;
  uint32_t seq_;
  NftCounters counters_;
  size_t sync_messages_ = 0, sync_bytes_ = 0, sync_elements_ = 0;
  std::chrono::nanoseconds sync_kernel_{0};      // time inside handle_->Commit, this sync
  std::chrono::nanoseconds sync_kernel_cpu_{0};  // this thread's CPU time in there
};

}  // namespace kpx
