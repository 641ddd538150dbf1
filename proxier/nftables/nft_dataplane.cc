#include "proxier/nftables/nft_dataplane.h"

#include <glog/logging.h>
#include <libnftnl/expr.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <span>
#include <tuple>

#include "base/thread_cpu_clock.h"
#include "proxier/nftables/nft_batch.h"
#include "proxier/nftables/nft_element_list.h"
#include "proxier/nftables/nft_rule_codec.h"

namespace kpx {

namespace {

// kube-proxy's own nftables tables: removed at start when kpx takes over a node.
constexpr char kKubeProxyTable[] = "kube-proxy";

// Adds go endpoints first and dispatch last, deletes the other way round, so that a
// transaction split in several never leaves a dispatch element pointing at nothing.
const std::vector<std::string>& AddOrder() {
  static const std::vector<std::string> order = [] {
    std::vector<std::string> o = {nft::kNodePortIps, nft::kHairpin, nft::kAffinityEndpoints,
                                  nft::kFirewallAllow, nft::kFirewallIps};
    const auto& maps = nft::EndpointMaps();
    o.insert(o.end(), maps.begin(), maps.end());
    o.insert(o.end(), {nft::kEndpointChains, nft::kEndpointSets, nft::kAffinityTimeouts,
                       nft::kPolicies, nft::kServiceIds, nft::kNodePortIds,
                       nft::kNoEndpointServices, nft::kNoEndpointNodePorts});
    return o;
  }();
  // nft::kAffinity is written by the packet path only: never diffed, never touched.
  return order;
}

// Growing sets carry NFT_SET_TIMEOUT only to get the kernel's resizable hash; nothing in them
// expires, so the collector that would walk them every second gets the longest interval there is.
constexpr uint32_t kNoGcInterval = UINT32_MAX;

// The largest service id a restart adopts from the kernel (kpx hands out the lowest free id, so
// its own are below kIdStep times the number of service ports); a port whose id is above gets a
// new one and its elements are rewritten once.
constexpr uint32_t kMaxAdoptedId = 1u << 26;

bool IdUsed(const std::vector<bool>& used, uint32_t id) {
  const size_t i = id / nft::kIdStep;
  return i < used.size() && used[i];
}

void MarkId(std::vector<bool>& used, uint32_t id, bool in_use) {
  const size_t i = id / nft::kIdStep;
  if (i >= used.size()) {
    if (!in_use) return;
    used.resize(std::max(i + 1, used.size() * 2));
  }
  used[i] = in_use;
}

// Whether every set `chain`'s rules read (lookups, dynset updates) is in `sets`.
bool ReadsOnly(const NftChainSpec& chain, const std::map<std::string, NftSetDump>& sets) {
  for (const NftRuleSpec& rule : chain.rules) {
    for (const NftExprSpec& e : rule) {
      for (const auto& [attr, value] : e.strs) {
        const bool names_set = (e.name == "lookup" && attr == NFTNL_EXPR_LOOKUP_SET) ||
                               (e.name == "dynset" && attr == NFTNL_EXPR_DYNSET_SET_NAME);
        if (names_set && !sets.contains(value)) return false;
      }
    }
  }
  return true;
}

// A set with nothing dumped or wanted, for the diffs to read as empty.
const NftElementList kNoElements;

// The maps from a dispatch key to a service id.
bool IdMap(const std::string& set) { return set == nft::kServiceIds || set == nft::kNodePortIds; }

bool PerIdSet(const std::string& set) {
  return nft::IsEndpointMap(set) || set == nft::kEndpointSets || set == nft::kAffinityEndpoints ||
         set == nft::kAffinityTimeouts;
}

}  // namespace

NftDataplane::NftDataplane(NftOptions options, std::unique_ptr<NftHandle> handle,
                           std::unique_ptr<Conntrack> conntrack, Clock clock)
    : options_(std::move(options)),
      handle_(std::move(handle)),
      conntrack_(std::move(conntrack)),
      conntrack_cleaner_(conntrack_.get()),
      clock_(clock ? std::move(clock) : Clock(std::chrono::steady_clock::now)),
      seq_(static_cast<uint32_t>(time(nullptr))) {}

std::vector<IpAddress> NftDataplane::LocalAddresses(const DesiredState& state) const {
  return options_.local_address_lister ? options_.local_address_lister() : state.node.addresses;
}

uint32_t NftDataplane::IdFor(FamilyState& fs, const ServicePortName& name) {
  if (const NftIdIndex::Found held = fs.ids.Find(name); held.name != nullptr) return held.id;
  while (IdUsed(fs.used_ids, fs.next_id)) fs.next_id += nft::kIdStep;
  const uint32_t id = fs.next_id;
  fs.next_id += nft::kIdStep;
  fs.ids.Insert(name, id);
  MarkId(fs.used_ids, id, true);
  return id;
}

void NftDataplane::ReleaseId(FamilyState& fs, const ServicePortName& name) {
  const uint32_t id = fs.ids.Erase(name);
  if (id == 0) return;
  MarkId(fs.used_ids, id, false);
  fs.next_id = std::min(fs.next_id, id);
}

void NftDataplane::Reclaim(FamilyState& fs, Owner owner, const std::vector<NftElement>& before,
                           const std::vector<NftElement>& after, Changes& changes) {
  // The first touch of a key records what the kernel holds for it before this sync.
  auto touch = [&](const NftElement& e) -> Delta& {
    auto [it, inserted] = changes[e.set].try_emplace(e.key);
    if (inserted && !PerIdSet(e.set)) {
      auto s = fs.shared.find(e.set);
      if (s != fs.shared.end()) it->second.was = s->second.Effective(e.key);
    }
    return it->second;
  };
  for (const auto& e : before) {
    Delta& d = touch(e);
    if (PerIdSet(e.set)) {
      // Only this owner ever held the key: its previous value is what the kernel has, unless
      // an owner removed earlier in this sync held the same id (then `was` is already set).
      if (!d.was && !d.now) d.was = e.value;
      d.now.reset();
      continue;
    }
    auto s = fs.shared.find(e.set);
    if (s != fs.shared.end()) s->second.Remove(e.key, owner, e.value);
  }
  for (const auto& e : after) {
    Delta& d = touch(e);
    if (PerIdSet(e.set)) {
      d.now = e.value;
      continue;
    }
    fs.shared[e.set].Add(e.key, owner, e.value);
  }
}

Status NftDataplane::Commit(NftBatch& batch) {
  if (batch.empty()) return Status::Ok();
  const auto start = clock_();
  const auto cpu_start = ThreadCpuTime();
  Status st = handle_->Commit(batch);
  counters_.last_commit_duration = clock_() - start;
  sync_kernel_ += counters_.last_commit_duration;
  sync_kernel_cpu_ += ThreadCpuTime() - cpu_start;
  seq_ = batch.end_seq() + 1;
  ++counters_.transactions;
  if (!st.ok()) {
    ++counters_.transaction_failures;
    return st;
  }
  counters_.messages += batch.message_count();
  counters_.elements_written += batch.element_count();
  sync_messages_ += batch.message_count();
  sync_bytes_ += batch.byte_size();
  sync_elements_ += batch.element_count();
  batch.Reset(seq_);
  return Status::Ok();
}

Status NftDataplane::CommitChanges(IpFamily family, FamilyState& fs, const Changes& changes) {
  NftBatch batch(seq_);
  std::map<std::string, std::vector<NftElement>> deletes, adds;
  for (const auto& [set, keys] : changes) {
    const bool per_id = PerIdSet(set);
    const auto s = fs.shared.find(set);
    for (const auto& [key, delta] : keys) {
      std::optional<NftValue> now = delta.now;
      if (!per_id && s != fs.shared.end()) now = s->second.Effective(key);
      const std::optional<NftValue>& was = delta.was;
      if (was == now) continue;
      if (was) deletes[set].push_back(NftElement{set, key, *was});
      if (now) adds[set].push_back(NftElement{set, key, *now});
      if (per_id) {
        if (was) --fs.exclusive_elements;
        if (now) ++fs.exclusive_elements;
      }
    }
  }
  // A growing set with a declared size is raised first if this change takes it past it.
  std::map<std::string, size_t> counts;
  std::vector<NftSetSpec> raises;
  for (auto& [name, fill] : fs.growing) {
    auto d = deletes.find(name);
    auto a = adds.find(name);
    if (d == deletes.end() && a == adds.end()) continue;
    size_t n = fill.count + (a != adds.end() ? a->second.size() : 0);
    n -= std::min(n, d != deletes.end() ? d->second.size() : 0);
    counts[name] = n;
    if (fill.spec.size == 0 || n <= fill.spec.size) continue;
    if (!options_.set_sizes_update) {
      return Status::Error("nftables: set " + name + " is full (" + std::to_string(fill.spec.size) +
                           " elements) and this kernel cannot raise its size; rebuilding it");
    }
    raises.push_back(Raised(fill.spec, n));
  }
  if (!raises.empty()) {
    NftBatch raise(seq_);
    if (Status st = RaiseSizes(family, fs, raises, raise); !st.ok()) return st;
  }
  auto order = AddOrder();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    auto d = deletes.find(*it);
    if (d != deletes.end()) {
      batch.DeleteElements(family, nft::kTable, *it, d->second, *it == nft::kFirewallAllow);
    }
  }
  for (const auto& set : order) {
    auto a = adds.find(set);
    if (a != adds.end()) {
      batch.AddElements(family, nft::kTable, set, a->second, set == nft::kFirewallAllow);
    }
  }
  // A partial sync is one transaction: its size is that of the change, which the change set
  // bounds; only full syncs are split.
  if (Status st = Commit(batch); !st.ok()) return st;
  for (const auto& [name, n] : counts) fs.growing[name].count = n;
  return Status::Ok();
}

NftSetSpec NftDataplane::Raised(const NftSetSpec& have, size_t elements) const {
  NftSetSpec raised = have;
  raised.size = NftSetCapacity(elements, options_.min_set_size);
  if (have.flags & NFT_SET_TIMEOUT) raised.gc_interval_ms = kNoGcInterval;
  return raised;
}

Status NftDataplane::RaiseSizes(IpFamily family, FamilyState& fs,
                                const std::vector<NftSetSpec>& raises, NftBatch& batch) {
  for (const NftSetSpec& r : raises) {
    LOG(INFO) << NftFamilyName(family) << " " << nft::kTable << ": raising the size of set "
              << r.name << " to " << r.size;
    batch.AddSet(family, nft::kTable, r);
  }
  if (Status st = Commit(batch); !st.ok()) return st;
  for (const NftSetSpec& r : raises) fs.growing[r.name].spec.size = r.size;
  counters_.set_size_raises += raises.size();
  return Status::Ok();
}

std::set<uint32_t> NftDataplane::Distinct(const std::map<ServicePortName, uint32_t>& timeouts) {
  std::set<uint32_t> out;
  for (const auto& [name, t] : timeouts) out.insert(t);
  return out;
}

Status NftDataplane::PartialSync(IpFamily family, const DesiredState& state) {
  FamilyState& fs = families_[static_cast<int>(family)];
  const auto cpu_start = ThreadCpuTime();
  const auto kernel_cpu_before = sync_kernel_cpu_;
  const auto kernel_before = sync_kernel_;
  // What the kernel holds for a changed port is what the last applied snapshot gave it.
  const DesiredState* prev = previous_ ? &*previous_ : nullptr;
  Changes changes;
  for (const ServicePortName& name : state.changed) {
    const ServicePortState* port = state.Find(name);
    const ServicePortState* old = prev != nullptr ? prev->Find(name) : nullptr;
    std::vector<NftElement> before, after;
    if (old != nullptr && old->info.ClusterIp(family)) {
      const NftIdIndex::Found id = fs.ids.Find(name);
      if (id.name == nullptr) {
        return Status::Error("nftables: " + name.ToString() +
                             " has no service id; resyncing the whole table");
      }
      before = ServicePortElements(*old, family, id.id, prev->node.addresses);
    }
    const bool in_family = port != nullptr && port->info.ClusterIp(family);
    if (in_family) {
      after = ServicePortElements(*port, family, IdFor(fs, name), state.node.addresses);
    }
    // A removed port's id is freed before later ports in the same sync pick theirs; its
    // elements were released above, so a reuse rewrites them in the same transaction.
    // The id (and with it the owner's name) outlives the claims: released below, after them.
    Reclaim(fs, fs.ids.Find(name).name, before, after, changes);
    if (!in_family) ReleaseId(fs, name);
  }
  Status st = CommitChanges(family, fs, changes);
  // kpx's own CPU (computing and encoding) apart from the kernel's commit, so a slow change
  // tells which side it was.
  auto us = [](std::chrono::nanoseconds d) { return std::to_string(d.count() / 1000); };
  VLOG(2) << NftFamilyName(family) << ": partial sync of " << state.changed.size()
          << " service port(s): kpx on CPU "
          << us(ThreadCpuTime() - cpu_start - (sync_kernel_cpu_ - kernel_cpu_before))
          << " us, kernel " << us(sync_kernel_ - kernel_before) << " us";
  return st;
}

Status NftDataplane::FullSync(IpFamily family, const DesiredState& state) {
  FamilyState& fs = families_[static_cast<int>(family)];
  fs.affinity_timeouts.clear();
  for (const auto& [name, port] : state.services) {
    if (port->info.session_affinity_client_ip && port->info.ClusterIp(family)) {
      fs.affinity_timeouts[name] = AffinityTimeout(port->info);
    }
  }
  const std::set<uint32_t> timeouts = Distinct(fs.affinity_timeouts);
  const auto t_start = clock_();
  const auto kernel_before = sync_kernel_;
  const auto kernel_cpu_before = sync_kernel_cpu_;
  NftLayout layout = BuildNftLayout(family, options_, state.node, timeouts);
  // The generation before the dump: the first transaction is refused if anyone (another kpx,
  // an operator's nft) committed in between, and the next sync starts over from a new dump.
  auto genid = handle_->Generation();
  if (!genid.ok()) return genid.status();
  // The structure first, then the elements of the shared sets, each into a compact list (the
  // id maps serve the adoption below). The per-id sets, nine tenths of the elements, are read
  // once the wanted elements are known, straight into the diff (PerIdDiff); the packet path's
  // affinity set is never read: kpx does not diff it.
  auto dumped = handle_->DumpStructure(family, nft::kTable);
  if (!dumped.ok()) return dumped.status();
  NftTableDump dump = std::move(dumped).value();
  std::map<std::string, NftElementList> have;
  if (dump.exists) {
    for (const auto& set : AddOrder()) {
      if (!dump.sets.contains(set) || PerIdSet(set)) continue;
      NftElementList& list = have[set];
      Status st = handle_->DumpElements(
          family, nft::kTable, set,
          [&](std::string_view key, const NftValue& value) { list.Add(key, value); });
      if (!st.ok()) return st;
    }
  }
  auto shadow = handle_->DumpStructure(family, nft::kShadowTable);
  if (!shadow.ok()) return shadow.status();
  bool shadow_exists = shadow->exists;
  shadow = NftTableDump{};
  const auto t_dumped = clock_();
  const auto cpu_dumped = ThreadCpuTime();

  // A restart adopts the ids the kernel already uses, so unchanged services produce
  // byte-identical elements and nothing of theirs is rewritten.
  if (!fs.adopted && dump.exists) {
    std::map<std::string, uint32_t> kernel_ids;
    for (const char* map : {nft::kServiceIds, nft::kNodePortIds}) {
      auto s = have.find(map);
      if (s == have.end()) continue;
      const NftElementList& elements = s->second;
      for (size_t i = 0; i < elements.size(); ++i) {
        const std::string_view data = elements.DataAt(i);
        if (data.size() != 4) continue;
        uint32_t id = 0;
        std::memcpy(&id, data.data(), 4);
        kernel_ids.emplace(elements.KeyAt(i), id & nft::kIdMask);
      }
    }
    for (const auto& [name, port] : state.services) {
      const auto& cip = port->info.ClusterIp(family);
      if (!cip || fs.ids.contains(name)) continue;
      std::optional<uint32_t> id;
      auto k = kernel_ids.find(NftServiceKey(*cip, port->info.protocol, port->info.port));
      if (k != kernel_ids.end()) id = k->second;
      if (!id && port->info.node_port != 0) {
        k = kernel_ids.find(NftNodePortKey(port->info.protocol, port->info.node_port));
        if (k != kernel_ids.end()) id = k->second;
      }
      if (!id || *id == 0 || *id > kMaxAdoptedId || IdUsed(fs.used_ids, *id)) {
        continue;
      }
      fs.ids.Insert(name, *id);
      MarkId(fs.used_ids, *id, true);
    }
  }
  fs.adopted = true;

  // Every element from scratch; ids of vanished ports are released (after the claims that
  // point at their names).
  fs.shared.clear();
  fs.ids.EraseIf([&](const ServicePortName& name, uint32_t id) {
    if (state.services.contains(name)) return false;
    MarkId(fs.used_ids, id, false);
    return true;
  });
  fs.next_id = nft::kIdStep;
  fs.exclusive_elements = 0;
  // Each chain's rules in the form the kernel dumps them (the text names no table, so it
  // serves kpx's table and the shadow alike).
  std::vector<std::vector<std::string>> want_rules(layout.chains.size());
  for (size_t i = 0; i < layout.chains.size(); ++i) {
    for (const auto& r : layout.chains[i].rules) {
      want_rules[i].push_back(
          NftRuleText(BuildNftRule(nft::kTable, layout.chains[i].name, r).get()));
    }
  }

  NftBatch batch(seq_);
  // One buffer for every transaction of this sync: a batch stops at the first message past
  // max_batch_bytes, and no element message takes more than a few hundred KiB.
  batch.Reserve(options_.max_batch_bytes + (256u << 10));
  batch.RequireGeneration(*genid);
  auto bounded = [&]() -> Status {
    if (batch.byte_size() < options_.max_batch_bytes) return Status::Ok();
    return Commit(batch);
  };

  // What each per-id set and id map will hold, at most (exactly unless an endpoint is listed
  // twice or two ports claim one key), and how many ports have this family. Few sets: a short
  // list beats a map on 100 000 ports.
  std::vector<std::pair<std::string_view, size_t>> per_id_bound;
  size_t ports = 0;
  for (const auto& [name, port] : state.services) {
    if (!port->info.ClusterIp(family)) continue;
    ++ports;
    ServicePortIdElementCounts(*port, family, [&](std::string_view set, size_t n) {
      for (auto& [s, count] : per_id_bound) {
        if (s == set) {
          count += n;
          return;
        }
      }
      per_id_bound.emplace_back(set, n);
    });
  }
  auto bound_of = [&](const std::string& set) -> size_t {
    for (const auto& [s, n] : per_id_bound) {
      if (s == set) return n;
    }
    return 0;
  };
  auto declare = [&](NftSetSpec& spec, size_t n) {
    if (!spec.grows || !options_.set_sizes_update) return;
    spec.flags |= NFT_SET_TIMEOUT;
    spec.gc_interval_ms = kNoGcInterval;
    spec.size = NftSetCapacity(n, options_.min_set_size);
  };

  // A cold start (no table at all) holds nothing to diff against: the per-id sets are declared
  // first, from the bounds, and their elements go into bounded batches as the ports give them,
  // about a batch's worth at a time, never held for the whole cluster; the rest of the table
  // follows once the claims are complete. Otherwise (a restart, a resync) the per-id elements
  // are kept, compactly, for the diff against the kernel's.
  // Before the first element: the per-id sets, the id maps (sized from the same bounds: the
  // endpoint chains' rules read them), the sets of a fixed size, every regular chain (verdicts
  // name them), and the rules of those chains that read no other set. A rule that reads a map
  // binds to it; binding one that already holds its elements makes the kernel walk them all
  // again, for each such rule (the kernel's time at 10 000 x 10 went from 80 to 270 ms with the
  // endpoint chains bound last). The other shared sets, whose sizes only the claims tell, come
  // with the rest of the table; base chains last, so nothing hooks into it before it is complete.
  const bool stream = !dump.exists;
  NftTableDump streamed;  // what the streaming wrote before the rest of the table
  if (stream) {
    batch.AddTable(family, nft::kTable);
    streamed.exists = true;
    for (NftSetSpec& spec : layout.sets) {
      if (spec.grows && !PerIdSet(spec.name) && !IdMap(spec.name)) continue;
      declare(spec, bound_of(spec.name));
      batch.AddSet(family, nft::kTable, spec);
      streamed.sets[spec.name].spec = spec;
    }
    // Every regular chain before any rule: rules jump to chains further down the layout.
    for (const NftChainSpec& c : layout.chains) {
      if (c.hook) continue;
      batch.AddChain(family, nft::kTable, c);
      streamed.chains[c.name] = NftChainDump{};
    }
    for (size_t i = 0; i < layout.chains.size(); ++i) {
      const NftChainSpec& c = layout.chains[i];
      if (c.hook || !ReadsOnly(c, streamed.sets)) continue;
      for (const auto& r : c.rules) batch.AddRule(family, nft::kTable, c.name, r);
      counters_.rules_written += c.rules.size();
      streamed.chains[c.name].rules = want_rules[i];
    }
  }
  // Per-id elements: kept per set for the diff, or (streaming) about a batch's worth at a time.
  std::map<std::string, NftElementList> want;
  std::map<std::string, size_t> per_id_counts;  // streamed, after duplicates are dropped
  // Keys: set id and slot; data: address and port.
  const size_t data_len = (family == IpFamily::kIPv4 ? 4 : 16) + 4;
  if (!stream) {
    // Sized up front: growing them element by element moved every element several times and
    // touched twice the memory (a fifth of the compute at 10 000 x 10).
    for (const auto& [set, n] : per_id_bound) {
      if (nft::IsEndpointMap(set)) want[std::string(set)].Reserve(n, 8, data_len);
    }
    want[nft::kEndpointSets].Reserve(ports, 4, 4);
  }
  // Streamed elements wait per set until about a batch's worth is pending, then go set by set:
  // messages of one set back to back, as the kernel took them fastest.
  size_t pending = 0;
  const size_t flush_at =
      std::max<size_t>(NftBatch::kElementsPerMessage, options_.max_batch_bytes / 64);
  auto flush = [&]() -> Status {
    for (const auto& set : AddOrder()) {
      auto it = want.find(set);
      if (it == want.end() || it->second.empty()) continue;
      NftElementList& list = it->second;
      for (size_t i = 0; i < list.size(); i += NftBatch::kElementsPerMessage) {
        batch.AddElements(family, nft::kTable, set, list, i, i + NftBatch::kElementsPerMessage);
        if (Status st = bounded(); !st.ok()) return st;
      }
      per_id_counts[set] += list.size();
      list.Truncate();
    }
    pending = 0;
    return Status::Ok();
  };
  // The last set each loop wrote to: a port's elements come grouped by set.
  const std::string* shared_name = nullptr;
  NftClaimSet* shared_set = nullptr;
  const std::string* want_name = nullptr;
  NftElementList* want_set = nullptr;
  std::vector<uint32_t> per_id;
  for (const auto& [name, port] : state.services) {
    // A port of the other family only has elements there; it needs no id here.
    if (!port->info.ClusterIp(family)) continue;
    const uint32_t id = IdFor(fs, name);
    std::vector<NftElement> elements = ServicePortElements(*port, family, id, state.node.addresses);
    if (elements.empty()) continue;
    const Owner owner = fs.ids.Find(name).name;
    // Per-id keys belong to this port alone, so a duplicate can only come from the port itself
    // (an endpoint listed twice): drop it here, on a handful of elements, sorting indices rather
    // than the elements themselves.
    per_id.clear();
    for (uint32_t i = 0; i < elements.size(); ++i) {
      NftElement& e = elements[i];
      if (PerIdSet(e.set)) {
        per_id.push_back(i);
        continue;
      }
      if (shared_set == nullptr || e.set != *shared_name) {
        auto it = fs.shared.try_emplace(e.set).first;
        shared_name = &it->first;
        shared_set = &it->second;
      }
      shared_set->Add(e.key, owner, e.value);
    }
    std::sort(per_id.begin(), per_id.end(), [&](uint32_t x, uint32_t y) {
      return std::tie(elements[x].set, elements[x].key) <
             std::tie(elements[y].set, elements[y].key);
    });
    const NftElement* previous = nullptr;  // this port's last element kept
    for (const uint32_t i : per_id) {
      const NftElement& e = elements[i];
      if (previous != nullptr && previous->set == e.set && previous->key == e.key) continue;
      if (want_set == nullptr || e.set != *want_name) {
        auto it = want.try_emplace(e.set).first;
        want_name = &it->first;
        want_set = &it->second;
      }
      if (!want_set->Add(e.key, e.value)) continue;
      previous = &e;
      ++fs.exclusive_elements;
      if (stream && ++pending >= flush_at) {
        if (Status st = flush(); !st.ok()) return st;
      }
    }
  }
  if (stream) {
    if (Status st = flush(); !st.ok()) return st;
    want.clear();
  }
  for (const auto& e : NodeElements(family, options_, LocalAddresses(state))) {
    fs.shared[e.set].Add(e.key, nullptr, e.value);
  }
  // The shared sets are written from the claims themselves, by position (see below).
  for (auto& [set, claims] : fs.shared) claims.Compact();
  // Growing sets are declared with room for what they will hold; deletes go before adds, so no
  // set holds more than that in between.
  std::map<std::string, size_t> final_counts;
  for (NftSetSpec& spec : layout.sets) {
    if (!spec.grows) continue;
    size_t n = 0;
    if (auto c = fs.shared.find(spec.name); c != fs.shared.end()) {
      n = c->second.size();
    } else if (auto w = want.find(spec.name); w != want.end()) {
      n = w->second.size();
    } else if (auto p = per_id_counts.find(spec.name); p != per_id_counts.end()) {
      n = p->second;
    }
    final_counts[spec.name] = n;
    // A streamed set was declared already, from its bound.
    if (!streamed.sets.contains(spec.name)) declare(spec, n);
  }
  const auto t_computed = clock_();
  const auto cpu_computed = ThreadCpuTime();
  // Streaming committed transactions inside the compute phase: the kernel's share of them is
  // the kernel's, not kpx's compute.
  const auto kernel_computed = sync_kernel_ - kernel_before;
  const auto kernel_cpu_computed = sync_kernel_cpu_ - kernel_cpu_before;

  // The fixed part. A set whose type changed, or a base chain on another hook, cannot be
  // altered in place: the table is rebuilt (below, through the shadow table). So is a table
  // with a sized set too small for its elements on a kernel that cannot raise its size.
  bool recreate = false;
  std::vector<NftSetSpec> raises;
  if (dump.exists) {
    for (const auto& spec : layout.sets) {
      auto s = dump.sets.find(spec.name);
      if (s == dump.sets.end()) continue;
      if (!spec.CompatibleWith(s->second.spec)) {
        recreate = true;
        continue;
      }
      const NftSetSpec& have = s->second.spec;
      if (!spec.grows || have.size == 0 || final_counts[spec.name] <= have.size) continue;
      if (!options_.set_sizes_update) {
        recreate = true;
        continue;
      }
      raises.push_back(Raised(have, final_counts[spec.name]));
    }
    for (const auto& c : layout.chains) {
      auto d = dump.chains.find(c.name);
      if (d == dump.chains.end()) continue;
      if (d->second.hook != c.hook ||
          (c.hook && (d->second.priority != c.priority || d->second.type != c.type))) {
        recreate = true;
      }
    }
  }
  // A layout change (a set of another type or a new or vanished set, a base chain on another
  // hook, rules that differ) is not applied in place: between the transactions of a large
  // change, rules would read maps not yet filled. The new layout is built whole in a shadow
  // table, which serves while kpx's own is rebuilt (NAT goes to the first nat chain that
  // matches, so either complete table answers for a service the other lacks), then the shadow
  // goes. Twice a cold load's work, on upgrades only, and no moment without the services.
  // Drift (missing elements, flushed or missing chains) is repaired in place.
  if (dump.exists && !recreate) {
    for (const auto& spec : layout.sets) recreate |= !dump.sets.contains(spec.name);
    for (const auto& [name, set] : dump.sets) {
      bool known = name == nft::kAffinity;
      for (const auto& spec : layout.sets) known |= spec.name == name;
      recreate |= !known;
    }
    for (size_t i = 0; i < layout.chains.size(); ++i) {
      auto d = dump.chains.find(layout.chains[i].name);
      if (d == dump.chains.end() || d->second.rules.empty()) continue;
      recreate |= d->second.rules != want_rules[i];
    }
  }
  // The per-id sets' diff, while their elements are read: what the kernel holds that is not
  // wanted (or not so) is kept to be deleted, drift-sized; the dumped elements themselves are
  // never held (1.1 M of them at 100 000 x 10).
  std::map<std::string, PerIdDiff> per_id_diff;
  std::chrono::nanoseconds per_id_dump{0}, per_id_dump_cpu{0};
  if (dump.exists && !recreate) {
    const auto start = clock_();
    const auto cpu_start = ThreadCpuTime();
    for (const auto& set : AddOrder()) {
      if (!PerIdSet(set) || !dump.sets.contains(set)) continue;
      auto w = want.find(set);
      const NftElementList& wanted = w != want.end() ? w->second : kNoElements;
      const std::vector<uint32_t> order = wanted.SortedByKey();
      std::vector<bool> seen(wanted.size());
      PerIdDiff& d = per_id_diff[set];
      Status st = handle_->DumpElements(
          family, nft::kTable, set, [&](std::string_view key, const NftValue& value) {
            auto it = std::lower_bound(
                order.begin(), order.end(), key,
                [&](uint32_t i, std::string_view k) { return wanted.KeyAt(i) < k; });
            if (it != order.end() && wanted.KeyAt(*it) == key) {
              if (seen[*it]) return;  // listed twice
              seen[*it] = true;
              if (wanted.ValueEquals(*it, value)) return;
              d.add.push_back(*it);
            }
            d.gone.Add(key, value);
          });
      if (!st.ok()) return st;
      for (uint32_t i = 0; i < seen.size(); ++i) {
        if (!seen[i]) d.add.push_back(i);
      }
      std::sort(d.add.begin(), d.add.end());
    }
    per_id_dump = clock_() - start;
    per_id_dump_cpu = ThreadCpuTime() - cpu_start;
  }
  if (recreate) {
    LOG(WARNING) << NftFamilyName(family) << " " << nft::kTable
                 << ": table layout differs from this kpx version's; building the new one in "
                 << nft::kShadowTable << " first, then rebuilding " << nft::kTable;
    raises.clear();
  } else if (!raises.empty()) {
    // In a transaction of their own (the first, with the generation check): a raised size holds
    // for adds once it is committed.
    if (Status st = RaiseSizes(family, fs, raises, batch); !st.ok()) return st;
    for (const NftSetSpec& r : raises) dump.sets[r.name].spec.size = r.size;
  }

  // Writes `table` so that it holds the desired state, from what `dump` says it holds.
  auto write = [&](const std::string& table, const NftTableDump& dump,
                   const std::map<std::string, NftElementList>& have,
                   const std::map<std::string, PerIdDiff>& per_id_diff) -> Status {
    if (!dump.exists) batch.AddTable(family, table);

    // Shared sets: both sides walked in key order, one merge per set tells what goes and what
    // comes, as positions into the dumped list (gone) and into the claims (add). Per-id sets
    // were diffed as they were read (PerIdDiff). What comes is encoded from the claims or the
    // compact lists a message at a time, never copied out whole.
    auto order = AddOrder();
    std::map<std::string, std::vector<uint32_t>> gone, add;
    // The list each set's `gone` positions point into: the dumped shared set, or the per-id
    // set's diff.
    std::map<std::string, const NftElementList*> gone_from;
    // Sets written whole (nothing of them dumped): all of their wanted elements.
    std::map<std::string, const NftElementList*> add_whole;
    std::map<std::string, std::vector<uint32_t>> add_claimed;
    for (const auto& set : order) {
      auto& g = gone[set];
      if (PerIdSet(set)) {
        auto w = want.find(set);
        auto d = per_id_diff.find(set);
        if (d == per_id_diff.end()) {
          if (w != want.end() && !w->second.empty()) add_whole[set] = &w->second;
          continue;
        }
        const NftElementList& gone_list = d->second.gone;
        g = gone_list.SortedByKeyOnce();  // a key the kernel listed twice is deleted once
        gone_from[set] = &gone_list;
        add[set] = d->second.add;
        continue;
      }
      auto h_list = have.find(set);
      const NftElementList& held = h_list != have.end() ? h_list->second : kNoElements;
      gone_from[set] = &held;
      const std::vector<uint32_t> h_order = held.SortedByKeyOnce();  // the dumped elements
      auto h = h_order.begin();
      const auto h_end = h_order.end();
      auto cs = fs.shared.find(set);  // per-id sets were handled above
      if (cs != fs.shared.end()) {
        const NftClaimSet& claims = cs->second;
        std::vector<uint32_t>& a = add_claimed[set];
        a.resize(claims.size());
        for (uint32_t i = 0; i < a.size(); ++i) a[i] = i;
        if (held.empty()) continue;  // all of them
        std::sort(a.begin(), a.end(),
                  [&](uint32_t x, uint32_t y) { return claims.KeyAt(x) < claims.KeyAt(y); });
        size_t kept = 0;  // a[0..kept) are the positions to write
        for (const uint32_t slot : a) {
          const std::string_view key = claims.KeyAt(slot);
          while (h != h_end && held.KeyAt(*h) < key) g.push_back(*h++);
          if (h != h_end && held.KeyAt(*h) == key) {
            if (!held.ValueEquals(*h, claims.Value(slot))) {
              g.push_back(*h);
              a[kept++] = slot;
            }
            ++h;
          } else {
            a[kept++] = slot;
          }
        }
        a.resize(kept);
        g.insert(g.end(), h, h_end);
        continue;
      }
      auto w = want.find(set);
      const NftElementList& wanted = w != want.end() ? w->second : kNoElements;
      if (held.empty()) {
        if (!wanted.empty()) add_whole[set] = &wanted;
        continue;
      }
      auto& a = add[set];
      for (const uint32_t i : wanted.SortedByKey()) {
        const std::string_view key = wanted.KeyAt(i);
        while (h != h_end && held.KeyAt(*h) < key) g.push_back(*h++);
        if (h != h_end && held.KeyAt(*h) == key) {
          if (!held.SameValue(*h, wanted, i)) {
            g.push_back(*h);
            a.push_back(i);
          }
          ++h;
        } else {
          a.push_back(i);
        }
      }
      g.insert(g.end(), h, h_end);
    }
    // Elements that must go, dispatch first.
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const std::vector<uint32_t>& g = gone[*it];
      if (g.empty()) continue;
      const NftElementList& held = *gone_from.at(*it);
      for (size_t i = 0; i < g.size(); i += NftBatch::kElementsPerMessage) {
        const size_t n = std::min(g.size() - i, NftBatch::kElementsPerMessage);
        batch.DeleteElements(family, table, *it, held, std::span(g).subspan(i, n),
                             *it == nft::kFirewallAllow);
        if (Status st = bounded(); !st.ok()) return st;
      }
    }
    for (const auto& spec : layout.sets) {
      if (!dump.sets.contains(spec.name)) batch.AddSet(family, table, spec);
    }
    for (const auto& c : layout.chains) {
      if (!dump.chains.contains(c.name)) batch.AddChain(family, table, c);
    }
    for (size_t ci = 0; ci < layout.chains.size(); ++ci) {
      const NftChainSpec& c = layout.chains[ci];
      const std::vector<std::string>& want = want_rules[ci];
      auto d = dump.chains.find(c.name);
      if (d != dump.chains.end() && d->second.rules == want) continue;
      if (d != dump.chains.end() && !d->second.rules.empty()) {
        LOG(INFO) << NftFamilyName(family) << " " << table << ": rewriting chain " << c.name;
        for (size_t i = 0; i < want.size(); ++i) {
          VLOG(4) << "want: " << want[i]
                  << "\nhave: " << (i < d->second.rules.size() ? d->second.rules[i] : "");
        }
        batch.FlushChain(family, table, c.name);
      }
      for (const auto& r : c.rules) batch.AddRule(family, table, c.name, r);
      counters_.rules_written += c.rules.size();
    }
    std::vector<NftElement> chunk;
    for (const auto& set : order) {
      const bool ranges = set == nft::kFirewallAllow;
      if (auto c = add_claimed.find(set); c != add_claimed.end()) {
        const NftClaimSet& claims = fs.shared.at(set);
        const std::vector<uint32_t>& a = c->second;
        for (size_t i = 0; i < a.size(); i += NftBatch::kElementsPerMessage) {
          const size_t n = std::min(a.size() - i, NftBatch::kElementsPerMessage);
          chunk.clear();
          for (size_t j = i; j < i + n; ++j) {
            chunk.push_back(NftElement{set, std::string(claims.KeyAt(a[j])), claims.Value(a[j])});
          }
          batch.AddElements(family, table, set, chunk, ranges);
          if (Status st = bounded(); !st.ok()) return st;
        }
        continue;
      }
      if (auto whole = add_whole.find(set); whole != add_whole.end()) {
        const NftElementList& list = *whole->second;
        for (size_t i = 0; i < list.size(); i += NftBatch::kElementsPerMessage) {
          batch.AddElements(family, table, set, list, i, i + NftBatch::kElementsPerMessage, ranges);
          if (Status st = bounded(); !st.ok()) return st;
        }
        continue;
      }
      auto a = add.find(set);
      if (a == add.end() || a->second.empty()) continue;
      const std::vector<uint32_t>& positions = a->second;
      const NftElementList& list = want.find(set)->second;  // positions come from it
      for (size_t i = 0; i < positions.size(); i += NftBatch::kElementsPerMessage) {
        const size_t n = std::min(positions.size() - i, NftBatch::kElementsPerMessage);
        batch.AddElements(family, table, set, list, std::span(positions).subspan(i, n), ranges);
        if (Status st = bounded(); !st.ok()) return st;
      }
    }
    // What an older layout left behind: chains (emptied first) and sets kpx no longer uses.
    std::set<std::string> chain_names, set_names;
    for (const auto& c : layout.chains) chain_names.insert(c.name);
    for (const auto& s : layout.sets) set_names.insert(s.name);
    for (const auto& [name, chain] : dump.chains) {
      if (chain_names.contains(name)) continue;
      if (!chain.rules.empty()) batch.FlushChain(family, table, name);
    }
    for (const auto& [name, chain] : dump.chains) {
      if (!chain_names.contains(name)) batch.DeleteChain(family, table, name);
    }
    for (const auto& [name, set] : dump.sets) {
      if (!set_names.contains(name)) batch.DeleteSet(family, table, name);
    }
    return Commit(batch);
  };
  if (stream) {
    // The rest of the table around the per-id sets already written.
    if (Status st = write(nft::kTable, streamed, have, per_id_diff); !st.ok()) return st;
  } else if (!recreate) {
    if (Status st = write(nft::kTable, dump, have, per_id_diff); !st.ok()) return st;
  } else {
    const NftTableDump none;
    const std::map<std::string, NftElementList> nothing;
    const std::map<std::string, PerIdDiff> no_diff;
    have.clear();
    if (shadow_exists) batch.DeleteTable(family, nft::kShadowTable);
    if (Status st = write(nft::kShadowTable, none, nothing, no_diff); !st.ok()) return st;
    batch.DeleteTable(family, nft::kTable);
    if (Status st = Commit(batch); !st.ok()) return st;
    if (Status st = write(nft::kTable, none, nothing, no_diff); !st.ok()) return st;
    batch.DeleteTable(family, nft::kShadowTable);
    if (Status st = Commit(batch); !st.ok()) return st;
    dump = NftTableDump{};
    shadow_exists = false;
  }
  if (shadow_exists) {
    // A shadow table left by an interrupted rebuild: kpx's own table is complete now.
    batch.DeleteTable(family, nft::kShadowTable);
    if (Status st = Commit(batch); !st.ok()) return st;
  }
  want.clear();
  fs.growing.clear();
  for (const auto& spec : layout.sets) {
    if (!spec.grows) continue;
    auto have = dump.sets.find(spec.name);
    FamilyState::Fill& fill = fs.growing[spec.name];
    fill.spec = have != dump.sets.end() ? have->second.spec : spec;
    fill.count = final_counts[spec.name];
  }
  auto& phases = counters_.last_full_sync;
  // The per-id sets were read (and diffed on the fly) after the compute: that is dump time.
  phases.dump = t_dumped - t_start + per_id_dump;
  phases.compute = t_computed - t_dumped - kernel_computed;
  phases.kernel = sync_kernel_ - kernel_before;
  phases.encode = clock_() - t_computed - (phases.kernel - kernel_computed) - per_id_dump;
  phases.compute_cpu = cpu_computed - cpu_dumped - kernel_cpu_computed;
  phases.encode_cpu = ThreadCpuTime() - cpu_computed -
                      (sync_kernel_cpu_ - kernel_cpu_before - kernel_cpu_computed) -
                      per_id_dump_cpu;
  auto ms = [](std::chrono::nanoseconds d) { return std::to_string(d.count() / 1000000); };
  VLOG(2) << NftFamilyName(family) << ": full sync phases: dump " << ms(phases.dump)
          << " ms, compute " << ms(phases.compute) << " ms, encode " << ms(phases.encode)
          << " ms, kernel " << ms(phases.kernel) << " ms (compute on CPU " << ms(phases.compute_cpu)
          << " ms, encode on CPU " << ms(phases.encode_cpu) << " ms)";
  fs.layout_timeouts = timeouts;
  counters_.chains[static_cast<int>(family)] = layout.chains.size();
  counters_.sets[static_cast<int>(family)] = layout.sets.size();
  VLOG(2) << NftFamilyName(family) << ": full sync, " << state.services.size()
          << " service port(s)";
  return Status::Ok();
}

Status NftDataplane::RemoveForeignTables() {
  for (IpFamily family : {IpFamily::kIPv4, IpFamily::kIPv6}) {
    auto dump = handle_->Dump(family, kKubeProxyTable);
    if (!dump.ok()) return dump.status();
    if (!dump->exists) continue;
    NftBatch batch(seq_);
    batch.DeleteTable(family, kKubeProxyTable);
    if (Status st = Commit(batch); !st.ok()) return st;
    LOG(INFO) << "removed kube-proxy's nftables table " << NftFamilyName(family) << " "
              << kKubeProxyTable;
  }
  return Status::Ok();
}

Status NftDataplane::ApplyFamily(IpFamily family, const DesiredState& state, bool full) {
  FamilyState& fs = families_[static_cast<int>(family)];
  full = full || fs.needs_full || state.node_changed;
  if (!full) {
    // A new distinct affinity timeout needs its recording chain (and a vanished one leaves
    // one behind): the layout changes, which only full syncs write.
    std::map<ServicePortName, uint32_t> timeouts = fs.affinity_timeouts;
    for (const ServicePortName& name : state.changed) {
      const ServicePortState* port = state.Find(name);
      if (port != nullptr && port->info.session_affinity_client_ip &&
          port->info.ClusterIp(family)) {
        timeouts[name] = AffinityTimeout(port->info);
      } else {
        timeouts.erase(name);
      }
    }
    if (Distinct(timeouts) != fs.layout_timeouts) full = true;
    fs.affinity_timeouts = std::move(timeouts);
  }
  // Until the sync succeeds, the cached elements may not match the kernel.
  fs.needs_full = true;
  Status st = full ? FullSync(family, state) : PartialSync(family, state);
  if (!st.ok()) return st;
  fs.needs_full = false;
  if (full) {
    ++counters_.full_syncs;
  } else {
    ++counters_.partial_syncs;
  }
  size_t n = 0;
  for (const auto& [set, elements] : fs.shared) n += elements.size();
  n += fs.exclusive_elements;
  counters_.elements[static_cast<int>(family)] = n;
  return Status::Ok();
}

Status NftDataplane::Apply(const DesiredState& state, bool full) {
  ++counters_.syncs;
  sync_messages_ = sync_bytes_ = sync_elements_ = 0;
  sync_kernel_ = sync_kernel_cpu_ = std::chrono::nanoseconds{0};
  if (!foreign_removed_) {
    if (Status st = RemoveForeignTables(); !st.ok()) {
      LOG(WARNING) << "cannot remove kube-proxy's nftables tables: " << st.message();
    } else {
      foreign_removed_ = true;
    }
  }
  std::string errors;
  const DesiredState* before = previous_ ? &*previous_ : nullptr;
  std::set<ServicePortName> computed;
  const std::set<ServicePortName>& changed =
      ConntrackCleaner::ChangesToApply(before, state, &computed);
  for (IpFamily family : options_.families) {
    Status st = ApplyFamily(family, state, full);
    if (!st.ok()) {
      if (!errors.empty()) errors += "; ";
      errors += st.message();
      continue;
    }
    conntrack_cleaner_.Clean(family, previous_ ? &*previous_ : nullptr, state, changed);
    PruneAffinity(family, state, changed);
  }
  counters_.conntrack_deletions = conntrack_cleaner_.deletions();
  counters_.conntrack_failures = conntrack_cleaner_.failures();
  counters_.last_sync_messages = sync_messages_;
  counters_.last_sync_bytes = sync_bytes_;
  counters_.last_sync_elements = sync_elements_;
  if (!errors.empty()) {
    // Partial syncs derive what the kernel holds from the last applied snapshot, which this
    // one did not replace: every family starts over from a dump.
    for (auto& fs : families_) fs.needs_full = true;
    return Status::Error(errors);
  }
  Remember(state);
  return Status::Ok();
}

void NftDataplane::Remember(const DesiredState& state) {
  // O(changes): the service map is persistent, so the copy shares every unchanged entry. Its
  // `changed` is never read again (partial syncs take the next snapshot's) and after a full
  // sync names every port: 1.3 MiB at 10 000 Services kept for nothing.
  previous_ = state.WithoutChanges();
}

void NftDataplane::PruneAffinity(IpFamily family, const DesiredState& state,
                                 const std::set<ServicePortName>& changed) {
  FamilyState& fs = families_[static_cast<int>(family)];
  std::map<std::string, std::set<std::string>> valid;  // service id -> endpoint data
  for (const ServicePortName& name : changed) {
    const ServicePortState* port = state.Find(name);
    if (port == nullptr || !port->info.session_affinity_client_ip) continue;
    const NftIdIndex::Found id = fs.ids.Find(name);
    if (id.name == nullptr) continue;
    auto& v = valid[NftU32(id.id)];
    for (const auto& ep : port->For(family).all_reachable()) {
      v.insert(NftEndpointData(ep->ip, ep->port));
    }
  }
  if (valid.empty()) return;
  auto entries = handle_->DumpSet(family, nft::kTable, nft::kAffinity);
  if (!entries.ok()) {
    LOG(WARNING) << "cannot list ClientIP affinity entries: " << entries.status().message();
    return;
  }
  std::vector<NftElement> stale;
  for (const auto& [key, value] : *entries) {
    auto v = valid.find(key.substr(0, 4));
    if (v != valid.end() && !v->second.contains(value.data)) {
      stale.push_back(NftElement{nft::kAffinity, key, value});
    }
  }
  if (stale.empty()) return;
  NftBatch batch(seq_);
  batch.DeleteElements(family, nft::kTable, nft::kAffinity, stale);
  // An entry may have expired meanwhile (ENOENT): affinity is best effort, the sync stands.
  if (Status st = Commit(batch); !st.ok()) {
    LOG(WARNING) << "cannot delete stale ClientIP affinity entries: " << st.message();
    return;
  }
  counters_.affinity_pruned += stale.size();
}

Status NftDataplane::Cleanup() {
  std::string errors;
  for (IpFamily family : {IpFamily::kIPv4, IpFamily::kIPv6}) {
    // A shadow table left by an interrupted rebuild goes too.
    if (auto shadow = handle_->Dump(family, nft::kShadowTable); shadow.ok() && shadow->exists) {
      NftBatch batch(seq_);
      batch.DeleteTable(family, nft::kShadowTable);
      if (Status st = Commit(batch); !st.ok()) {
        if (!errors.empty()) errors += "; ";
        errors += st.message();
      }
    }
    auto dump = handle_->Dump(family, nft::kTable);
    Status st = dump.status();
    if (st.ok() && dump->exists) {
      NftBatch batch(seq_);
      batch.DeleteTable(family, nft::kTable);
      st = Commit(batch);
    } else if (!st.ok()) {
      // A kernel whose nf_tables cannot even list the table (Debian 6.1 without nf_tables in use
      // answers EINVAL) holds no kpx table either; try the delete, and only warn if it fails too.
      NftBatch batch(seq_);
      batch.DeleteTable(family, nft::kTable);
      if (Status del = Commit(batch); !del.ok()) {
        LOG(WARNING) << "nftables cleanup: " << st.message() << "; delete: " << del.message()
                     << " (treated as no kpx table)";
      }
      st = Status::Ok();
    }
    if (!st.ok()) {
      if (!errors.empty()) errors += "; ";
      errors += st.message();
    }
    families_[static_cast<int>(family)] = FamilyState{};
  }
  previous_.reset();
  if (!errors.empty()) return Status::Error("cleanup: " + errors);
  return Status::Ok();
}

void NftDataplane::RecordMetrics(MetricsRegistry& metrics) const {
  metrics
      .GetCounter("kubeproxy_sync_proxy_rules_nftables_sync_failures_total",
                  "nftables transactions the kernel refused")
      ->Set(static_cast<double>(counters_.transaction_failures));
  metrics.GetCounter("kpx_nftables_transactions_total", "nftables transactions committed")
      ->Set(static_cast<double>(counters_.transactions));
  conntrack_cleaner_.RecordMetrics(metrics);
  metrics
      .GetCounter("kpx_nftables_elements_written_total", "Set and map elements added or deleted")
      ->Set(static_cast<double>(counters_.elements_written));
  metrics
      .GetCounter("kpx_nftables_set_size_raises_total",
                  "Growing sets whose declared size kpx raised before adding past it")
      ->Set(static_cast<double>(counters_.set_size_raises));
  metrics.GetGauge("kpx_nftables_last_sync_messages", "Netlink messages sent by the last sync")
      ->Set(static_cast<double>(counters_.last_sync_messages));
  metrics.GetGauge("kpx_nftables_last_sync_bytes", "Netlink bytes sent by the last sync")
      ->Set(static_cast<double>(counters_.last_sync_bytes));
  metrics
      .GetGauge("kpx_nftables_last_commit_seconds",
                "Time the kernel took to commit the last transaction")
      ->Set(std::chrono::duration<double>(counters_.last_commit_duration).count());
  for (IpFamily f : {IpFamily::kIPv4, IpFamily::kIPv6}) {
    const MetricsRegistry::Labels labels = {{"family", f == IpFamily::kIPv4 ? "ipv4" : "ipv6"}};
    const int i = static_cast<int>(f);
    metrics.GetGauge("kpx_nftables_elements", "Set and map elements kpx holds", labels)
        ->Set(static_cast<double>(counters_.elements[i]));
    metrics.GetGauge("kpx_nftables_chains", "Chains in kpx's table", labels)
        ->Set(static_cast<double>(counters_.chains[i]));
    metrics.GetGauge("kpx_nftables_sets", "Sets and maps in kpx's table", labels)
        ->Set(static_cast<double>(counters_.sets[i]));
  }
}

}  // namespace kpx
