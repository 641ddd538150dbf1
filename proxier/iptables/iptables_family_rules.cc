#include "proxier/iptables/iptables_family_rules.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>
#include <unordered_set>

#include <glog/logging.h>

#include "base/helper_cpu.h"
#include "proxier/iptables/chain_names.h"
#include "proxier/iptables/prefix_dispatch.h"
#include "proxier/netfilter/chain_name_order.h"
#include "proxier/netfilter/kube_chains.h"

namespace kpx {

namespace {

// Write's two outputs: text copied into one string, or pieces that view chain texts in place.
void Put(std::string& out, std::string_view text) { out += text; }
void Put(std::string& out, char c) { out.push_back(c); }
void Put(RestorePieces& out, std::string_view text) { out.Append(text); }
void Put(RestorePieces& out, char c) { out.Append(c); }
void PutChainText(std::string& out, std::string_view text) { out += text; }
// An owned chain's text is its rules' lines, nothing else.
void PutChainText(RestorePieces& out, std::string_view text) { out.ViewRules(text); }
// `lines`: about the bytes of the lines written here; `texts`: those of the chain texts, and
// how many of them there are.
void Reserve(std::string& out, size_t lines, size_t texts, size_t) { out.reserve(lines + texts); }
void Reserve(RestorePieces& out, size_t lines, size_t, size_t chains) {
  // Each chain text a piece, and the lines written between them a few more.
  out.Reserve(lines, chains + 16);
}

template <typename Out>
void Declare(std::string_view chain, Out& out) {
  Put(out, ':');
  Put(out, chain);
  Put(out, " - [0:0]\n");
}

template <typename Out>
void Lines(const std::vector<std::string>& lines, Out& out) {
  for (const auto& l : lines) {
    Put(out, l);
    Put(out, '\n');
  }
}

bool Contains(const std::vector<OwnedChain>& chains, const std::string& name) {
  return std::any_of(chains.begin(), chains.end(),
                     [&](const OwnedChain& c) { return c.name == name; });
}

}  // namespace

uint64_t OwnedChain::Digest(std::string_view text) { return std::hash<std::string_view>()(text); }

size_t ServiceFragment::FilterRules() const {
  size_t n = 0;
  for (int i = 0; i < kSharedChainCount; ++i) {
    if (i != static_cast<int>(SharedChain::kNatNodePorts)) n += shared_rules[i];
  }
  return n;
}

size_t ServiceFragment::NatRules() const {
  size_t n = shared_rules[static_cast<int>(SharedChain::kNatNodePorts)];
  for (const auto& c : chains) n += c.rules;
  return n;
}

namespace {

// The CPUs this process may run on (its affinity, which a container's cpuset narrows), not the
// machine's.
int AvailableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

}  // namespace

IptablesFamilyRules::IptablesFamilyRules(const IptablesRenderer& renderer, IpFamily family)
    : IptablesFamilyRules(renderer, family, Options()) {}

IptablesFamilyRules::IptablesFamilyRules(const IptablesRenderer& renderer, IpFamily family,
                                         const Options& options)
    : renderer_(renderer),
      family_(family),
      render_threads_(options.render_threads > 0 ? options.render_threads
                                                 : std::min(2, AvailableCpus())),
      split_from_(options.split_from) {}

size_t IptablesFamilyRules::filter_rules() const {
  size_t n = filter_rules_;
  for (const auto& c : top_.filter) n += c.rules.size();
  return n;
}

size_t IptablesFamilyRules::nat_rules() const {
  size_t n = nat_rules_;
  for (const auto& c : top_.nat) n += c.rules.size();
  if (renderer_.options().dispatch == DispatchMode::kPrefixTree) {
    for (const auto& c : tree_) n += c.rules.size();
  } else {
    n += dispatch_rules_;
  }
  return n;
}

size_t IptablesFamilyRules::nat_chains() const {
  return top_.nat.size() + owned_chains_ + (tree_.empty() ? 0 : tree_.size() - 1);
}

void IptablesFamilyRules::Count(const ServiceFragment& f, int sign) {
  auto add = [sign](size_t& total, size_t n) { total = sign > 0 ? total + n : total - n; };
  add(endpoints_, f.endpoints);
  add(filter_rules_, f.FilterRules());
  add(nat_rules_, f.NatRules());
  add(dispatch_rules_, f.dispatch.size());
  add(owned_chains_, f.chains.size());
}

void IptablesFamilyRules::BuildTree() {
  if (renderer_.options().dispatch != DispatchMode::kPrefixTree) {
    tree_.clear();
    return;
  }
  std::vector<DispatchEntry> all;
  all.reserve(dispatch_rules_);
  for (const auto& [name, e] : entries_) {
    all.insert(all.end(), e.fragment.dispatch.begin(), e.fragment.dispatch.end());
  }
  PrefixDispatch tree(family_,
                      static_cast<size_t>(std::max(1, renderer_.options().dispatch_leaf_size)));
  tree_ = tree.Build(std::string(kServicesChain), std::move(all));
}

IptablesFamilyRules::Output IptablesFamilyRules::RenderAll(
    const DesiredState& state, TopLevelRules top, const std::set<std::string>& existing_filter,
    const std::set<std::string>& existing_nat, bool pieces) {
  // What the previous rendering had is as good as what the kernel listed: delete it too.
  std::set<std::string> old_nat = existing_nat;
  std::set<std::string> old_filter = existing_filter;
  for (const auto& c : top_.filter) old_filter.insert(c.name);
  for (const auto& c : top_.nat) old_nat.insert(c.name);
  for (const auto& [name, e] : entries_) {
    for (const auto& c : e.fragment.chains) old_nat.insert(c.name);
  }
  for (size_t i = 1; i < tree_.size(); ++i) old_nat.insert(tree_[i].name);

  std::map<ServicePortName, Entry> old = std::move(entries_);
  entries_.clear();
  endpoints_ = filter_rules_ = nat_rules_ = dispatch_rules_ = owned_chains_ = 0;
  top_ = std::move(top);
  size_t endpoints = 0;
  for (const auto& [name, port] : state.services) {
    if (InFamily(*port)) endpoints += port->For(family_).all().size();
  }
  large_ = renderer_.LargeCluster(endpoints);
  const FamilyContext context = renderer_.Context(state.node, family_, large_);
  for (ChainTexts& t : texts_) t.SetGrouped(!pieces);
  // The entries are made first, so that rendering only fills them in.
  std::vector<Entry*> todo;
  todo.reserve(state.services.size());
  for (const auto& [name, port] : state.services) {
    if (!InFamily(*port)) continue;
    Entry& e = entries_.emplace_hint(entries_.end(), name, Entry())->second;
    e.port = port;
    if (auto it = old.find(name); it != old.end()) e.names = std::move(it->second.names);
    todo.push_back(&e);
  }
  Selection sel;
  sel.all = true;
  RenderEntries(todo, context, &sel.sorted);
  for (const Entry* e : todo) Count(e->fragment, +1);
  BuildTree();
  valid_ = true;

  std::unordered_set<std::string_view> rendered_nat, rendered_filter;
  for (const auto& c : top_.filter) rendered_filter.insert(c.name);
  for (const auto& c : top_.nat) rendered_nat.insert(c.name);
  // The set only tells which old chains are stale: when none of them is a service's (a first
  // sync on a clean node has only the top-level chains its jumps created), the 110 000 names of
  // 10 000 services need not go into it.
  if (std::any_of(old_nat.begin(), old_nat.end(), IsServiceChainName)) {
    for (const auto& [name, e] : entries_) {
      for (const auto& c : e.fragment.chains) rendered_nat.insert(c.name);
    }
    for (size_t i = 1; i < tree_.size(); ++i) rendered_nat.insert(tree_[i].name);
  }
  for (const auto& c : old_filter) {
    if (!rendered_filter.contains(c)) sel.stale_filter.push_back(c);
  }
  for (const auto& c : old_nat) {
    if (!rendered_nat.contains(c)) sel.stale_nat.push_back(c);
  }
  Output out;
  out.full = true;
  out.stale_chains = sel.stale_filter.size() + sel.stale_nat.size();
  out.rerendered = entries_.size();
  if (pieces) {
    // The runner reads the chain texts where they lie: no 32 MB copy of them (at 10 000 x 10)
    // into fresh pages, read once. They are freed after it ran (FinishWrite).
    Write(sel, out.pieces);
    pieces_pending_ = true;
    return out;
  }
  Write(sel, out.text, std::span<ChainTexts>(texts_));
  DropAllWrittenText();
  return out;
}

void IptablesFamilyRules::AddChains(const ServiceFragment& f, SortedChains& out) {
  for (const OwnedChain& c : f.chains) out.push_back(SortedChains::value_type::Of(c.name, &c));
}

void IptablesFamilyRules::RenderEntries(std::span<Entry* const> entries,
                                        const FamilyContext& context, SortedChains* sorted) {
  // Taken a few at a time from one counter, so that neither thread waits long on the other
  // whatever the ports' sizes.
  constexpr size_t kBatch = 64;
  std::atomic<size_t> next{0};
  auto render = [&](ChainTexts& texts, SortedChains* mine) {
    // Room for what a port usually owns (a service chain and ten endpoint chains at most kpx's
    // scale tests), reserved rather than grown: only the pages used are faulted in.
    if (mine != nullptr) mine->reserve(entries.size() * 16);
    for (;;) {
      const size_t from = next.fetch_add(kBatch, std::memory_order_relaxed);
      if (from >= entries.size()) break;
      const size_t to = std::min(entries.size(), from + kBatch);
      for (size_t i = from; i < to; ++i) {
        Entry& e = *entries[i];
        e.fragment = renderer_.RenderServicePort(*e.port, context, e.names, texts);
        if (mine != nullptr) AddChains(e.fragment, *mine);
      }
    }
    if (mine != nullptr) std::sort(mine->begin(), mine->end());
  };
  SortedChains helper_sorted;
  std::thread helper;
  if (render_threads_ > 1 && split_from_ > 0 && entries.size() >= split_from_) {
    try {
      helper = std::thread([&] {
        const HelperCpu::Scope cpu;  // counted in the sync's CPU
        render(texts_[1], sorted != nullptr ? &helper_sorted : nullptr);
      });
      ++split_renders_;
    } catch (const std::system_error& e) {
      LOG_FIRST_N(WARNING, 1) << "no helper thread for a full render (" << e.what()
                              << "): rendered on one";
    }
  }
  render(texts_[0], sorted);
  if (helper.joinable()) helper.join();
  if (sorted != nullptr && !helper_sorted.empty()) {
    SortedChains mine = std::move(*sorted);
    sorted->resize(mine.size() + helper_sorted.size());
    std::merge(mine.begin(), mine.end(), helper_sorted.begin(), helper_sorted.end(),
               sorted->begin());
  }
}

void IptablesFamilyRules::FinishWrite() {
  if (!pieces_pending_) return;
  pieces_pending_ = false;
  DropAllWrittenText();
}

void IptablesFamilyRules::DropAllWrittenText() {
  std::vector<Entry*> all;
  all.reserve(entries_.size());
  for (auto& [name, e] : entries_) all.push_back(&e);
  DropWrittenText(all);
}

IptablesFamilyRules::Output IptablesFamilyRules::Update(
    const DesiredState& state, const std::vector<IpAddress>& local, Mode mode,
    const std::set<std::string>& existing_filter, const std::set<std::string>& existing_nat,
    bool pieces) {
  FinishWrite();
  TopLevelRules top = renderer_.RenderTopLevel(state, family_, local);
  if (mode == Mode::kFull || !valid_ || state.node_changed ||
      top.filter.size() != top_.filter.size() || top.nat.size() != top_.nat.size()) {
    return RenderAll(state, std::move(top), existing_filter, existing_nat, pieces);
  }
  // kube-proxy's large-cluster mode changes every endpoint rule: flipping it is a full render.
  size_t endpoints = endpoints_;
  for (const auto& name : state.changed) {
    if (auto it = entries_.find(name); it != entries_.end()) {
      endpoints -= it->second.fragment.endpoints;
    }
    if (const ServicePortState* port = state.Find(name); port != nullptr && InFamily(*port)) {
      endpoints += port->For(family_).all().size();
    }
  }
  if (renderer_.LargeCluster(endpoints) != large_) {
    return RenderAll(state, std::move(top), existing_filter, existing_nat, pieces);
  }

  const FamilyContext context = renderer_.Context(state.node, family_, large_);
  texts_[0].SetGrouped(false);
  Selection sel;
  std::array<bool, kSharedChainCount> shared_dirty{};
  bool dispatch_dirty = false;
  Output out;
  auto compare = [&](const ServiceFragment& before, const ServiceFragment& after) {
    for (int i = 0; i < kSharedChainCount; ++i) {
      if (before.shared[i] != after.shared[i]) shared_dirty[i] = true;
    }
    if (before.dispatch != after.dispatch) dispatch_dirty = true;
    for (const auto& c : before.chains) {
      if (!Contains(after.chains, c.name)) sel.stale_nat.push_back(c.name);
    }
  };
  const ServiceFragment none;
  for (const auto& name : state.changed) {
    auto sit = state.services.find(name);
    auto eit = entries_.find(name);
    // A port without this family's cluster IP has nothing here, as one that is gone.
    if (sit == state.services.end() || !InFamily(*sit->second)) {
      if (eit == entries_.end()) continue;  // added and removed between two syncs
      compare(eit->second.fragment, none);
      Count(eit->second.fragment, -1);
      entries_.erase(eit);
      continue;
    }
    if (eit != entries_.end() && eit->second.port == sit->second) continue;  // same entry
    ServiceChainNames names;
    if (eit != entries_.end()) names = std::move(eit->second.names);
    ServiceFragment fragment = renderer_.RenderServicePort(*sit->second, context, names, texts_[0]);
    ++out.rerendered;
    if (eit == entries_.end()) eit = entries_.emplace(name, Entry{}).first;
    Entry& e = eit->second;
    if (e.fragment == fragment) {
      // A change that does not show in this family's rules (a port of the other family, a
      // field iptables does not use, a change undone before this sync).
      e.port = sit->second;
      e.names = std::move(names);
      continue;
    }
    compare(e.fragment, fragment);
    Count(e.fragment, -1);
    Count(fragment, +1);
    e.port = sit->second;
    e.names = std::move(names);
    e.fragment = std::move(fragment);
    sel.services.push_back(&e);
  }

  sel.filter_top.resize(top.filter.size());
  sel.nat_top.resize(top.nat.size());
  bool any_top = false;
  for (size_t i = 0; i < top.filter.size(); ++i) {
    const TopLevelChain& c = top.filter[i];
    sel.filter_top[i] =
        c != top_.filter[i] || (c.services && shared_dirty[static_cast<int>(*c.services)]);
    any_top = any_top || sel.filter_top[i];
  }
  for (size_t i = 0; i < top.nat.size(); ++i) {
    const TopLevelChain& c = top.nat[i];
    sel.nat_top[i] = c != top_.nat[i] || (c.dispatch && dispatch_dirty) ||
                     (c.services && shared_dirty[static_cast<int>(*c.services)]);
    any_top = any_top || sel.nat_top[i];
  }
  top_ = std::move(top);
  if (dispatch_dirty && renderer_.options().dispatch == DispatchMode::kPrefixTree) {
    std::vector<std::string> old_tree;
    for (size_t i = 1; i < tree_.size(); ++i) old_tree.push_back(std::move(tree_[i].name));
    BuildTree();
    std::unordered_set<std::string_view> now;
    for (size_t i = 1; i < tree_.size(); ++i) now.insert(tree_[i].name);
    for (auto& c : old_tree) {
      if (!now.contains(c)) sel.stale_nat.push_back(std::move(c));
    }
    sel.tree = true;
  }
  std::sort(sel.stale_nat.begin(), sel.stale_nat.end());
  out.stale_chains = sel.stale_nat.size();
  if (!any_top && sel.services.empty() && !sel.tree && sel.stale_nat.empty()) {
    DropWrittenText({});
    return out;
  }
  Write(sel, out.text);
  DropWrittenText(sel.services);
  return out;
}

void IptablesFamilyRules::DropWrittenText(std::span<Entry* const> written) {
  // Every fragment rendered this sync was either written or found equal to the one it would
  // have replaced and dropped: none still views the arena after this.
  for (Entry* e : written) {
    for (OwnedChain& c : e->fragment.chains) c.text = {};
  }
  for (ChainTexts& t : texts_) t.Clear();
}

std::string IptablesFamilyRules::Fingerprint() const {
  Selection sel;
  sel.all = true;
  sel.fingerprint = true;
  std::string out;
  Write(sel, out);
  return out;
}

template <typename Out>
void IptablesFamilyRules::WriteTop(const TopLevelChain& c, Out& out) const {
  if (c.dispatch) {
    if (renderer_.options().dispatch == DispatchMode::kPrefixTree) {
      if (!tree_.empty()) Lines(tree_[0].rules, out);
    } else {
      const std::string head = "-A " + c.name + " ";
      for (const auto& [name, e] : entries_) {
        for (const auto& d : e.fragment.dispatch) {
          Put(out, head);
          Put(out, d.args);
          Put(out, '\n');
        }
      }
    }
  }
  if (c.services) {
    const int i = static_cast<int>(*c.services);
    for (const auto& [name, e] : entries_) Put(out, e.fragment.shared[i]);
  }
  Lines(c.rules, out);
}

template <typename Out>
void IptablesFamilyRules::Write(const Selection& sel, Out& out,
                                std::span<ChainTexts> written) const {
  auto wanted = [&](const std::vector<bool>& flags, size_t i) { return sel.all || flags[i]; };
  // A full write lists the services' chains in the order the x_tables table keeps them (by
  // name), not by service: the libiptc runner then encodes them in table order, and laying the
  // table out reads the 110 000 chains' edits and 105 MB of encoded rules front to back instead
  // of all over (the edit took 275-485 ms, 165-175 ms so). ChainTexts frees the rendered texts
  // group by group as the names go by.
  // The render sorts them when it renders them all (see RenderEntries); a fingerprint's are
  // sorted here.
  const SortedChains* sorted = nullptr;
  SortedChains sorted_here;
  if (sel.all && sel.sorted.size() == owned_chains_) {
    sorted = &sel.sorted;
  } else if (sel.all) {
    sorted_here.reserve(owned_chains_);
    for (const auto& [name, e] : entries_) AddChains(e.fragment, sorted_here);
    std::sort(sorted_here.begin(), sorted_here.end());
    sorted = &sorted_here;
  }
  auto service_chains = [&](auto&& fn) {  // fn(const OwnedChain&)
    if (sorted != nullptr) {
      // In name order the chains are all over the heap: the ones a few ahead are asked for
      // early, so that their misses overlap (each of the three walks reaches 110 000 of them).
      constexpr size_t kAhead = 8;
      const size_t n = sorted->size();
      for (size_t i = 0; i < n; ++i) {
        if (i + kAhead < n) {
          __builtin_prefetch((*sorted)[i + kAhead].item);
          __builtin_prefetch((*sorted)[i + kAhead].name.data());
        }
        fn(*(*sorted)[i].item);
      }
    } else {
      for (const Entry* e : sel.services) {
        for (const auto& c : e->fragment.chains) fn(c);
      }
    }
  };
  const bool tree = sel.all || sel.tree;
  // A full sync writes 32 MB at 10 000 services: sized once rather than grown by doubling, which
  // copied and faulted in the text twice over. The service chains are most of it; each service's
  // dispatch and shared rules get a generous allowance.
  size_t lines = 4096 + (sel.all ? entries_.size() : sel.services.size()) * 512;
  size_t texts = 0;
  size_t chains = 0;
  service_chains([&](const OwnedChain& c) {
    lines += 2 * c.name.size() + 16;
    texts += c.text.size();
    ++chains;
  });
  Reserve(out, lines, texts, chains);

  bool filter = !sel.stale_filter.empty();
  for (size_t i = 0; i < top_.filter.size(); ++i) filter = filter || wanted(sel.filter_top, i);
  if (filter) {
    Put(out, "*filter\n");
    for (size_t i = 0; i < top_.filter.size(); ++i) {
      if (wanted(sel.filter_top, i)) Declare(top_.filter[i].name, out);
    }
    for (const auto& c : sel.stale_filter) Declare(c, out);
    for (size_t i = 0; i < top_.filter.size(); ++i) {
      if (wanted(sel.filter_top, i)) WriteTop(top_.filter[i], out);
    }
    for (const auto& c : sel.stale_filter) Put(out, "-X " + c + "\n");
    Put(out, "COMMIT\n");
  }

  bool nat = sel.all || !sel.services.empty() || sel.tree || !sel.stale_nat.empty();
  for (size_t i = 0; i < top_.nat.size(); ++i) nat = nat || wanted(sel.nat_top, i);
  if (nat) {
    Put(out, "*nat\n");
    for (size_t i = 0; i < top_.nat.size(); ++i) {
      if (wanted(sel.nat_top, i)) Declare(top_.nat[i].name, out);
    }
    service_chains([&](const OwnedChain& c) { Declare(c.name, out); });
    if (tree) {
      for (size_t i = 1; i < tree_.size(); ++i) Declare(tree_[i].name, out);
    }
    for (const auto& c : sel.stale_nat) Declare(c, out);
    for (size_t i = 0; i < top_.nat.size(); ++i) {
      if (wanted(sel.nat_top, i)) WriteTop(top_.nat[i], out);
    }
    service_chains([&](const OwnedChain& c) {
      if (!sel.fingerprint) {
        if (sel.all) {
          for (ChainTexts& t : written) t.ReleaseBefore(c.name);
        }
        PutChainText(out, c.text);
        return;
      }
      Put(out, "# " + c.name + " " + std::to_string(c.rules) + " rules, digest " +
                   std::to_string(c.digest) + "\n");
    });
    if (tree) {
      for (size_t i = 1; i < tree_.size(); ++i) Lines(tree_[i].rules, out);
    }
    for (const auto& c : sel.stale_nat) Put(out, "-X " + c + "\n");
    Put(out, "COMMIT\n");
  }
}

}  // namespace kpx
