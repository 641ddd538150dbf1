#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "proxier/core/desired_state.h"
#include "proxier/iptables/chain_texts.h"
#include "proxier/iptables/iptables_renderer.h"
#include "proxier/iptables/iptables_ruleset.h"
#include "proxier/iptables/service_fragment.h"
#include "proxier/netfilter/chain_name_order.h"
#include "proxier/netfilter/restore_pieces.h"

namespace kpx {

// One family's rendered ruleset, kept between syncs as one fragment per service port so that an
// incremental sync costs work in proportion to what changed:
//  - a service port is re-rendered only when it is in state.changed and its entry's pointer
//    differs from the one its fragment was rendered from (DesiredState shares unchanged entries);
//  - only chains whose rules changed are written: the changed ports' own chains, and a top-level
//    chain only if some changed port's lines in it (or its own rules) differ;
//  - stale chains are the changed ports' old chains they no longer have (and old prefix-tree
//    chains), so no set of every chain is built on the incremental path;
//  - "nothing changed" (empty text) follows from the change set and the re-rendered fragments,
//    never from comparing whole renderings.
// A full update re-renders everything and writes every chain: its text is byte for byte a fresh
// render's. The cache is updated before the caller applies the text; after a failed apply the
// caller must ask for a full update (the cache no longer describes the kernel).
// Not thread-safe.
class IptablesFamilyRules {
 public:
  enum class Mode { kPartial, kFull };
  struct Output {
    // iptables-restore --noflush input; empty when the kernel already holds this rendering.
    // A partial update's is `text`; a full update's is `pieces`, which view the chains' rendered
    // texts in this object until FinishWrite (or the next Update) frees them.
    std::string text;
    RestorePieces pieces;
    bool empty() const { return text.empty() && pieces.empty(); }
    size_t size() const { return text.size() + pieces.size(); }
    // The whole input as one string (tests, logs).
    std::string Text() const { return text + pieces.Join(); }
    // Every chain was written: asked for, or promoted (first update, large-cluster mode flip).
    bool full = false;
    size_t stale_chains = 0;
    size_t rerendered = 0;  // service ports rendered by this update
  };

  struct Options {
    // Threads a full render of at least `split_from` service ports runs on: rendering one port
    // reads only the port, the context and the renderer, and writes its own fragment, so the
    // ports are shared out (the first sync at 10 000 x 10 renders 32 MB of rules). 0: two when
    // the process may run on two CPUs or more, else one.
    int render_threads = 0;
    size_t split_from = 1024;
  };
  IptablesFamilyRules(const IptablesRenderer& renderer, IpFamily family);
  IptablesFamilyRules(const IptablesRenderer& renderer, IpFamily family, const Options& options);

  // kFull: `existing_*` are kpx's chains the kernel holds; those not rendered are deleted.
  // kPartial: the service ports in state.changed are reconsidered, the rest is trusted.
  // `pieces`: a full update's input goes to Output::pieces (for a runner that reads them where
  // they lie), else to Output::text.
  Output Update(const DesiredState& state, const std::vector<IpAddress>& local_addresses, Mode mode,
                const std::set<std::string>& existing_filter,
                const std::set<std::string>& existing_nat, bool pieces = false);

  // Frees the rendered texts a full update's pieces view, once the caller has applied them.
  // Update calls it first thing, too.
  void FinishWrite();

  // The whole current rendering as restore input, as a full update would write it without
  // stale chains, except that each owned chain's rules (not kept once written) are a comment
  // line with its digest. Two renderings with equal fingerprints write the same rules. For
  // tests and diagnostics, never on the sync path.
  std::string Fingerprint() const;

  // Rule and chain counts of the current rendering.
  size_t nat_rules() const;
  size_t filter_rules() const;
  size_t nat_chains() const;
  bool large_cluster() const { return large_; }
  // Full renders shared with a helper thread (Options::render_threads).
  size_t split_renders() const { return split_renders_; }

 private:
  struct Entry {
    ServicePortStatePtr port;
    ServiceFragment fragment;
    ServiceChainNames names;
  };
  // Owned chains in name order, with their names' sort keys.
  using SortedChains = std::vector<ChainNameOrder::Keyed<const OwnedChain*>>;
  // What a partial update writes.
  struct Selection {
    bool all = false;
    std::vector<bool> filter_top;  // by index in top_.filter
    std::vector<bool> nat_top;     // by index in top_.nat
    std::vector<Entry*> services;
    bool tree = false;  // the prefix tree's KUBE-DST chains
    std::vector<std::string> stale_filter;
    std::vector<std::string> stale_nat;
    bool fingerprint = false;  // owned chains as their digests (Fingerprint)
    // With `all`: every owned chain in name order, as the render sorted them (else Write does).
    SortedChains sorted;
  };
  // Whether the port has a cluster IP of this family. One that has not renders nothing here
  // (kube-proxy's proxier of the other family does not see it), and gets no entry: a first sync
  // of 10 000 single-stack ports built 10 000 empty entries for the other family (and kept them).
  bool InFamily(const ServicePortState& port) const {
    return port.info.ClusterIp(family_).has_value();
  }
  // Appends the fragment's owned chains, keyed by name, unsorted.
  static void AddChains(const ServiceFragment& f, SortedChains& out);

  Output RenderAll(const DesiredState& state, TopLevelRules top,
                   const std::set<std::string>& existing_filter,
                   const std::set<std::string>& existing_nat, bool pieces);
  // Rebuilds the prefix tree from every fragment's dispatch entries (DispatchMode::kPrefixTree).
  void BuildTree();
  void Count(const ServiceFragment& f, int sign);
  // Renders each entry's fragment from its port, on render_threads_ threads when there are
  // enough of them; each thread writes its chains' texts into its own of texts_. `sorted`, if
  // given: the rendered chains in name order, each thread sorting its own while their names are
  // fresh in its cache, then merged.
  void RenderEntries(std::span<Entry* const> entries, const FamilyContext& context,
                     SortedChains* sorted = nullptr);
  // The selection as restore input, into `out`: a std::string (each chain text copied) or
  // RestorePieces (each chain text viewed where it lies). `written` (string only): where the
  // selected services' chain texts are; a full write, which lists the services' chains by name
  // as the table keeps them, frees them as it copies them.
  template <typename Out>
  void Write(const Selection& sel, Out& out, std::span<ChainTexts> written = {}) const;
  // Forgets the entries' owned chains' texts once written and frees them; digests stay.
  void DropWrittenText(std::span<Entry* const> written);
  void DropAllWrittenText();  // of every entry (after a full write)
  template <typename Out>
  void WriteTop(const TopLevelChain& c, Out& out) const;

  const IptablesRenderer& renderer_;
  const IpFamily family_;
  bool valid_ = false;
  bool large_ = false;
  std::map<ServicePortName, Entry> entries_;
  // This sync's rendered owned chains, until written: [0] this thread's, [1] a full render's
  // helper's.
  std::array<ChainTexts, 2> texts_;
  bool pieces_pending_ = false;  // a full update's pieces still view texts_
  int render_threads_;
  size_t split_from_;
  size_t split_renders_ = 0;
  TopLevelRules top_;
  // kPrefixTree: [0] holds KUBE-SERVICES' dispatch rules, the rest are the KUBE-DST chains.
  std::vector<RenderedChain> tree_;
  // Sums over entries_.
  size_t endpoints_ = 0;
  size_t filter_rules_ = 0;
  size_t nat_rules_ = 0;  // owned chains and nat KUBE-NODEPORTS, not dispatch
  size_t dispatch_rules_ = 0;
  size_t owned_chains_ = 0;
};

}  // namespace kpx
