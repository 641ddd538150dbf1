#include "proxier/nftables/fake_nft_handle.h"

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <memory>
#include <vector>

#include "proxier/nftables/nft_dump_codec.h"
#include "proxier/nftables/nft_rule_codec.h"

namespace kpx {

namespace {

IpFamily FamilyOf(const nlmsghdr* nlh) {
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  return nfg->nfgen_family == NFPROTO_IPV6 ? IpFamily::kIPv6 : IpFamily::kIPv4;
}

// Chains named by rules and verdict-map elements: what would keep a chain busy.
bool ChainReferenced(const NftTableDump& t, const std::string& chain) {
  for (const auto& [name, set] : t.sets) {
    for (const auto& [k, v] : set.elements) {
      if (v.is_verdict && v.chain == chain) return true;
    }
  }
  const std::string needle = "-> " + chain + " ";
  for (const auto& [name, c] : t.chains) {
    for (const auto& r : c.rules) {
      if (r.find(needle) != std::string::npos) return true;
    }
  }
  return false;
}

// libnftnl numbers the element nests it builds 1, 2, 3, ... (the kernel ignores the type) but
// its parser accepts only NFTA_LIST_ELEM, as the kernel sends them. The fake parses what kpx
// sends, so it renumbers a copy the way the kernel would echo it.
std::vector<char> WithListElemNests(const nlmsghdr* nlh) {
  std::vector<char> copy(reinterpret_cast<const char*>(nlh),
                         reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len);
  auto* h = reinterpret_cast<nlmsghdr*>(copy.data());
  auto* attr = static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(h, sizeof(nfgenmsg)));
  const char* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(h));
  for (; mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<char*>(attr)));
       attr = mnl_attr_next(attr)) {
    if (mnl_attr_get_type(attr) != NFTA_SET_ELEM_LIST_ELEMENTS) continue;
    auto* elem = static_cast<nlattr*>(mnl_attr_get_payload(attr));
    const char* end = reinterpret_cast<const char*>(attr) + attr->nla_len;
    for (; mnl_attr_ok(elem, static_cast<int>(end - reinterpret_cast<char*>(elem)));
         elem = mnl_attr_next(elem)) {
      elem->nla_type = static_cast<uint16_t>((elem->nla_type & ~NLA_TYPE_MASK) | NFTA_LIST_ELEM);
    }
  }
  return copy;
}

}  // namespace

NftTableDump* FakeNftHandle::Table(IpFamily family, const std::string& table) {
  auto it = tables_->find({family, table});
  return it == tables_->end() ? nullptr : &it->second;
}

Result<NftTableDump> FakeNftHandle::Dump(IpFamily family, const std::string& table) {
  NftTableDump out;
  auto it = tables_->find({family, table});
  if (it != tables_->end()) out = it->second;
  if (after_dump_) after_dump_(family, table);
  return out;
}

Result<NftTableDump> FakeNftHandle::DumpStructure(IpFamily family, const std::string& table) {
  NftTableDump out;
  auto it = tables_->find({family, table});
  if (it != tables_->end()) {
    out.exists = it->second.exists;
    out.chains = it->second.chains;
    for (const auto& [name, set] : it->second.sets) out.sets[name].spec = set.spec;
  }
  if (after_dump_) after_dump_(family, table);
  return out;
}

Status FakeNftHandle::DumpElements(IpFamily family, const std::string& table,
                                   const std::string& set, const ElementVisitor& each) {
  auto it = tables_->find({family, table});
  if (it == tables_->end()) return Status::Ok();
  auto s = it->second.sets.find(set);
  if (s == it->second.sets.end()) return Status::Ok();
  // The kernel lists a set in its hash order, not by key: neither may the fake (reversed).
  for (auto e = s->second.elements.rbegin(); e != s->second.elements.rend(); ++e) {
    each(e->first, e->second);
  }
  return Status::Ok();
}

Result<std::map<std::string, NftValue>> FakeNftHandle::DumpSet(IpFamily family,
                                                               const std::string& table,
                                                               const std::string& set) {
  auto it = tables_->find({family, table});
  if (it == tables_->end()) return std::map<std::string, NftValue>{};
  auto s = it->second.sets.find(set);
  if (s == it->second.sets.end()) return std::map<std::string, NftValue>{};
  return s->second.elements;
}

Status FakeNftHandle::Commit(const NftBatch& batch) {
  if (fail_next_) {
    std::string m = *fail_next_;
    fail_next_.reset();
    return Status::Error(m);
  }
  if (batch.empty()) return Status::Ok();
  if (batch.required_generation() && *batch.required_generation() != *generation_) {
    return Status::Error("nftables: transaction refused; batch framing: " + NftErrnoText(ERESTART));
  }
  ++commits_;
  Tables next = *tables_;
  const std::vector<uint8_t> bytes = batch.Bytes();
  int len = static_cast<int>(bytes.size());
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes.data());
  auto fail = [&](const nlmsghdr* h, int err) {
    return Status::Error("nftables: transaction refused; " + batch.Describe(h->nlmsg_seq) + ": " +
                         NftErrnoText(err));
  };
  for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
    const uint16_t type = nlh->nlmsg_type;
    if (type == NFNL_MSG_BATCH_BEGIN || type == NFNL_MSG_BATCH_END) continue;
    if ((type >> 8) != NFNL_SUBSYS_NFTABLES) return fail(nlh, EINVAL);
    ++messages_;
    const IpFamily family = FamilyOf(nlh);
    switch (type & 0xff) {
      case NFT_MSG_NEWTABLE:
      case NFT_MSG_DELTABLE: {
        nftnl_table* t = nftnl_table_alloc();
        nftnl_table_nlmsg_parse(nlh, t);
        const Key key{family, nftnl_table_get_str(t, NFTNL_TABLE_NAME)};
        nftnl_table_free(t);
        if ((type & 0xff) == NFT_MSG_NEWTABLE) {
          next[key].exists = true;
        } else {
          if (next.erase(key) == 0) return fail(nlh, ENOENT);
        }
        break;
      }
      case NFT_MSG_NEWCHAIN:
      case NFT_MSG_DELCHAIN: {
        nftnl_chain* c = nftnl_chain_alloc();
        nftnl_chain_nlmsg_parse(nlh, c);
        const Key key{family, nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE)};
        const std::string name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
        NftChainDump d = NftChainDumpOf(c);
        nftnl_chain_free(c);
        auto t = next.find(key);
        if (t == next.end()) return fail(nlh, ENOENT);
        if ((type & 0xff) == NFT_MSG_NEWCHAIN) {
          auto it = t->second.chains.find(name);
          if (it == t->second.chains.end()) {
            t->second.chains[name] = d;
          } else if (it->second.hook != d.hook) {
            return fail(nlh, EEXIST);
          }
        } else {
          auto it = t->second.chains.find(name);
          if (it == t->second.chains.end()) return fail(nlh, ENOENT);
          if (!it->second.rules.empty() || ChainReferenced(t->second, name)) {
            return fail(nlh, EBUSY);
          }
          t->second.chains.erase(it);
        }
        break;
      }
      case NFT_MSG_NEWRULE:
      case NFT_MSG_DELRULE: {
        NftRulePtr r(nftnl_rule_alloc());
        nftnl_rule_nlmsg_parse(nlh, r.get());
        const Key key{family, nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE)};
        const std::string chain = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN);
        auto t = next.find(key);
        if (t == next.end()) return fail(nlh, ENOENT);
        auto c = t->second.chains.find(chain);
        if (c == t->second.chains.end()) return fail(nlh, ENOENT);
        if ((type & 0xff) == NFT_MSG_DELRULE) {
          c->second.rules.clear();  // kpx only ever flushes whole chains
          break;
        }
        const std::string text = NftRuleText(r.get());
        // Every set and chain a rule names must exist, as the kernel resolves them at load.
        for (size_t pos = text.find("[lookup "); pos != std::string::npos;
             pos = text.find("[lookup ", pos + 1)) {
          const size_t start = text.find(" set ", pos) + 5;
          const std::string set = text.substr(start, text.find(' ', start) - start);
          if (!t->second.sets.count(set)) return fail(nlh, ENOENT);
        }
        c->second.rules.push_back(text);
        break;
      }
      case NFT_MSG_NEWSET:
      case NFT_MSG_DELSET: {
        nftnl_set* s = nftnl_set_alloc();
        nftnl_set_nlmsg_parse(nlh, s);
        const Key key{family, nftnl_set_get_str(s, NFTNL_SET_TABLE)};
        NftSetSpec spec = NftSetSpecOf(s);
        nftnl_set_free(s);
        auto t = next.find(key);
        if (t == next.end()) return fail(nlh, ENOENT);
        auto it = t->second.sets.find(spec.name);
        if ((type & 0xff) == NFT_MSG_NEWSET) {
          if (it == t->second.sets.end()) {
            t->second.sets[spec.name].spec = spec;
          } else if (!(it->second.spec == spec)) {
            // The same set with another size: an update, which kernels before 6.5 accept and
            // ignore.
            NftSetSpec resized = it->second.spec;
            resized.size = spec.size;
            if (!(resized == spec)) return fail(nlh, EEXIST);
            if (set_sizes_update_ && spec.size != 0) it->second.spec.size = spec.size;
          }
        } else {
          if (it == t->second.sets.end()) return fail(nlh, ENOENT);
          t->second.sets.erase(it);
        }
        break;
      }
      case NFT_MSG_NEWSETELEM:
      case NFT_MSG_DELSETELEM: {
        ++element_messages_;
        nftnl_set* s = nftnl_set_alloc();
        const std::vector<char> fixed = WithListElemNests(nlh);
        nftnl_set_elems_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(fixed.data()), s);
        const Key key{family, nftnl_set_get_str(s, NFTNL_SET_TABLE)};
        const std::string name = nftnl_set_get_str(s, NFTNL_SET_NAME);
        auto t = next.find(key);
        if (t == next.end() || !t->second.sets.count(name)) {
          nftnl_set_free(s);
          return fail(nlh, ENOENT);
        }
        NftSetDump& set = t->second.sets[name];
        struct Ctx {
          NftSetDump* set;
          const NftTableDump* table;
          bool add;
          int err;
        } ctx{&set, &t->second, (type & 0xff) == NFT_MSG_NEWSETELEM, 0};
        // nftnl_set_elem_foreach, not the iterator: nftnl_set_elems_iter_next hands out the
        // first element twice.
        nftnl_set_elem_foreach(
            s,
            [](nftnl_set_elem* e, void* data) {
              auto* c = static_cast<Ctx*>(data);
              if (c->err != 0) return 0;
              bool has_key = false;
              std::string k;
              NftValue v = NftValueOf(e, &has_key, &k);
              const bool ranges = (c->set->spec.flags & NFT_SET_INTERVAL) != 0;
              if (!has_key || k.size() != c->set->spec.key_len * (ranges ? 2 : 1)) {
                c->err = EINVAL;
              } else if (c->add) {
                if (v.is_verdict && !v.chain.empty() && !c->table->chains.count(v.chain)) {
                  c->err = ENOENT;
                } else if (!v.is_verdict && (c->set->spec.flags & NFT_SET_MAP) &&
                           v.data.size() != c->set->spec.data_len) {
                  c->err = EINVAL;
                } else {
                  auto [pos, inserted] = c->set->elements.emplace(k, v);
                  if (!inserted && !(pos->second == v)) c->err = EEXIST;
                  const uint32_t max = c->set->spec.size;
                  if (inserted && max != 0 && c->set->elements.size() > max) c->err = ENFILE;
                }
              } else if (c->set->elements.erase(k) == 0) {
                c->err = ENOENT;
              }
              return 0;
            },
            &ctx);
        const int err = ctx.err;
        nftnl_set_free(s);
        if (err != 0) return fail(nlh, err);
        break;
      }
      default:
        return fail(nlh, EOPNOTSUPP);
    }
  }
  *tables_ = std::move(next);
  ++*generation_;
  if (after_commit_) after_commit_();
  return Status::Ok();
}

}  // namespace kpx
