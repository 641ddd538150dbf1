#include "proxier/nftables/nft_batch.h"

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <endian.h>
#include <cerrno>

#include <cstring>
#include <memory>
#include <stdexcept>

#include "proxier/nftables/nft_rule_codec.h"

namespace kpx {

namespace {

// Big enough for one message of kElementsPerMessage IPv6 elements with their data.
constexpr size_t kScratch = 256 * 1024;

template <typename T, void (*Free)(const T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using TablePtr = std::unique_ptr<nftnl_table, Deleter<nftnl_table, nftnl_table_free>>;
using ChainPtr = std::unique_ptr<nftnl_chain, Deleter<nftnl_chain, nftnl_chain_free>>;
using SetPtr = std::unique_ptr<nftnl_set, Deleter<nftnl_set, nftnl_set_free>>;

}  // namespace

std::string NftErrnoText(int err) {
  switch (err) {
    case EPERM:
      return "operation not permitted (kpx needs CAP_NET_ADMIN)";
    case ENOENT:
      return "no such object (table, chain, set or element)";
    case EEXIST:
      return "object already exists";
    case EBUSY:
      return "object is in use (referenced by a rule or map element)";
    case EOPNOTSUPP:
      return "not supported by this kernel (an nf_tables module may be missing)";
    case ENOBUFS:
      return "netlink buffer exhausted (batch too large)";
    case EMSGSIZE:
      return "message too large for the netlink socket";
    case EINVAL:
      return "invalid argument (malformed expression or element)";
    case ERANGE:
      return "value out of range (register or length)";
    case ENOSPC:
      return "set is full";
    case ENFILE:
      return "set is full (more elements than its declared size)";
    case ELOOP:
      return "chain loop detected";
    case ERESTART:
      return "the ruleset changed since kpx read it (another writer); retried with a fresh dump";
    case ENODATA:
      return "a rule reads a register no earlier expression of it wrote";
    default:
      return std::strerror(err);
  }
}

const char* NftFamilyName(IpFamily family) { return family == IpFamily::kIPv4 ? "ip" : "ip6"; }
uint16_t NftFamilyProto(IpFamily family) {
  return family == IpFamily::kIPv4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
}

NftBatch::NftBatch(uint32_t first_seq) : first_seq_(first_seq) {}

void NftBatch::Reset(uint32_t first_seq) {
  first_seq_ = first_seq;
  genid_.reset();
  body_.clear();
  offsets_.clear();
  descriptions_.clear();
  elements_ = 0;
}

void NftBatch::Appended(size_t offset) {
  if (!offsets_.empty()) {
    reinterpret_cast<nlmsghdr*>(body_.data() + offsets_.back())->nlmsg_flags &= ~NLM_F_ACK;
  }
  offsets_.push_back(offset);
  reinterpret_cast<nlmsghdr*>(body_.data() + offset)->nlmsg_flags |= NLM_F_ACK;
}

uint32_t NftBatch::NextSeq() const {
  // first_seq_ is the batch begin; messages follow it.
  return first_seq_ + 1 + static_cast<uint32_t>(descriptions_.size());
}

std::span<char> NftBatch::Scratch() {
  // Made (and zero-filled) once per batch: a fresh 256 KiB for every rule and chain had a full
  // sync spend more time clearing memory than building messages.
  if (scratch_.empty()) scratch_.resize(kScratch);
  return scratch_;
}

void NftBatch::Append(const void* nlh, std::string description) {
  const auto* h = static_cast<const nlmsghdr*>(nlh);
  const size_t offset = body_.size();
  const auto* p = static_cast<const uint8_t*>(nlh);
  body_.insert(body_.end(), p, p + NLMSG_ALIGN(h->nlmsg_len));
  // libnftnl leaves some attributes' padding as it finds it: what this message wrote is cleared
  // so that the next one's padding is zero, as in a fresh buffer.
  if (p == reinterpret_cast<const uint8_t*>(scratch_.data())) {
    std::memset(scratch_.data(), 0, NLMSG_ALIGN(h->nlmsg_len));
  }
  Appended(offset);
  descriptions_.push_back(std::move(description));
}

void NftBatch::AddTable(IpFamily family, const std::string& table) {
  std::span<char> buf = Scratch();
  TablePtr t(nftnl_table_alloc());
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_NEWTABLE, NftFamilyProto(family),
                                        NLM_F_CREATE, NextSeq());
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  Append(nlh, std::string("add table ") + NftFamilyName(family) + " " + table);
}

void NftBatch::DeleteTable(IpFamily family, const std::string& table) {
  std::span<char> buf = Scratch();
  TablePtr t(nftnl_table_alloc());
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_DELTABLE, NftFamilyProto(family), 0, NextSeq());
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  Append(nlh, std::string("delete table ") + NftFamilyName(family) + " " + table);
}

void NftBatch::AddChain(IpFamily family, const std::string& table, const NftChainSpec& spec) {
  std::span<char> buf = Scratch();
  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, spec.name.c_str());
  if (spec.hook) {
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, spec.type.c_str());
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, *spec.hook);
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, spec.priority);
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  }
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_NEWCHAIN, NftFamilyProto(family),
                                        NLM_F_CREATE, NextSeq());
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  Append(nlh, "add chain " + table + " " + spec.name);
}

void NftBatch::FlushChain(IpFamily family, const std::string& table, const std::string& chain) {
  std::span<char> buf = Scratch();
  NftRulePtr r(nftnl_rule_alloc());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_DELRULE, NftFamilyProto(family), 0, NextSeq());
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  Append(nlh, "flush chain " + table + " " + chain);
}

void NftBatch::DeleteChain(IpFamily family, const std::string& table, const std::string& chain) {
  std::span<char> buf = Scratch();
  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.c_str());
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_DELCHAIN, NftFamilyProto(family), 0, NextSeq());
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  Append(nlh, "delete chain " + table + " " + chain);
}

void NftBatch::AddRule(IpFamily family, const std::string& table, const std::string& chain,
                       const NftRuleSpec& rule) {
  std::span<char> buf = Scratch();
  NftRulePtr r = BuildNftRule(table, chain, rule);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_NEWRULE, NftFamilyProto(family),
                                        NLM_F_CREATE | NLM_F_APPEND, NextSeq());
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  // Named without the rule's text: that is rendered from the message only when the kernel
  // refuses it (Describe), not for every rule of every sync.
  Append(nlh, "add rule " + table + " " + chain);
}

void NftBatch::AddSet(IpFamily family, const std::string& table, const NftSetSpec& spec) {
  std::span<char> buf = Scratch();
  SetPtr s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, spec.name.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, NftFamilyProto(family));
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, spec.flags);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, spec.key_type);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, spec.key_len);
  if (spec.flags & NFT_SET_MAP) {
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, spec.data_type);
    if (spec.data_type != NFT_DATA_VERDICT) {
      nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, spec.data_len);
    }
  }
  if (spec.size != 0) nftnl_set_set_u32(s.get(), NFTNL_SET_DESC_SIZE, spec.size);
  if (spec.gc_interval_ms != 0) {
    nftnl_set_set_u32(s.get(), NFTNL_SET_GC_INTERVAL, spec.gc_interval_ms);
  }
  if (!spec.concat_fields.empty()) {
    nftnl_set_set_data(s.get(), NFTNL_SET_DESC_CONCAT, spec.concat_fields.data(),
                       static_cast<uint32_t>(spec.concat_fields.size()));
  }
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, NextSeq());
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_NEWSET, NftFamilyProto(family),
                                        NLM_F_CREATE, NextSeq());
  nftnl_set_nlmsg_build_payload(nlh, s.get());
  Append(nlh, "add set " + table + " " + spec.name);
}

void NftBatch::DeleteSet(IpFamily family, const std::string& table, const std::string& set) {
  std::span<char> buf = Scratch();
  SetPtr s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.c_str());
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_DELSET, NftFamilyProto(family), 0, NextSeq());
  nftnl_set_nlmsg_build_payload(nlh, s.get());
  Append(nlh, "delete set " + table + " " + set);
}

template <typename At>
void NftBatch::Elements(uint16_t type, IpFamily family, const std::string& table,
                        const std::string& set, size_t count, const At& at, bool ranges) {
  // Written with libmnl straight into the batch: building one libnftnl object per element cost
  // more than the kernel's insert at 100 000 services. The attributes are libnftnl's (the fake
  // parses them back with libnftnl).
  const bool add = type == NFT_MSG_NEWSETELEM;
  const char* verb = add ? "add" : "delete";
  for (size_t start = 0; start < count; start += kElementsPerMessage) {
    const size_t end = std::min(count, start + kElementsPerMessage);
    // An upper bound of the message: headers, names, and per element its nests and payloads.
    size_t bound = 128 + table.size() + set.size();
    for (size_t i = start; i < end; ++i) {
      const NftElementView e = at(i);
      bound += 96 + 2 * e.key.size() + e.data.size() + (e.chain ? std::strlen(e.chain) : 0);
    }
    const size_t off = body_.size();
    body_.resize(off + bound);
    nlmsghdr* nlh =
        nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(body_.data() + off), type,
                              NftFamilyProto(family), add ? NLM_F_CREATE : 0, NextSeq());
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set.c_str());
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table.c_str());
    nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
    auto put_data = [&](uint16_t attr, const char* p, size_t len) {
      nlattr* nest = mnl_attr_nest_start(nlh, attr);
      mnl_attr_put(nlh, NFTA_DATA_VALUE, len, p);
      mnl_attr_nest_end(nlh, nest);
    };
    for (size_t i = start; i < end; ++i) {
      const NftElementView e = at(i);
      nlattr* el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
      if (ranges) {
        const size_t half = e.key.size() / 2;
        put_data(NFTA_SET_ELEM_KEY, e.key.data(), half);
        put_data(NFTA_SET_ELEM_KEY_END, e.key.data() + half, half);
      } else {
        put_data(NFTA_SET_ELEM_KEY, e.key.data(), e.key.size());
      }
      if (add && e.is_verdict) {
        nlattr* data = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
        nlattr* verdict = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
        mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htobe32(static_cast<uint32_t>(e.verdict)));
        if (e.chain != nullptr && *e.chain != '\0') {
          mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, e.chain);
        }
        mnl_attr_nest_end(nlh, verdict);
        mnl_attr_nest_end(nlh, data);
      } else if (add && !e.data.empty()) {
        put_data(NFTA_SET_ELEM_DATA, e.data.data(), e.data.size());
      }
      mnl_attr_nest_end(nlh, el);
    }
    mnl_attr_nest_end(nlh, list);
    if (nlh->nlmsg_len > bound) throw std::logic_error("nft element message overflow");
    body_.resize(off + NLMSG_ALIGN(nlh->nlmsg_len));
    Appended(off);
    elements_ += end - start;
    descriptions_.push_back(std::string(verb) + " " + std::to_string(end - start) +
                            " element(s) of " + table + " " + set);
  }
}

namespace {

NftElementView ViewOf(const NftElement& e) {
  return NftElementView{e.key, e.value.data, e.value.is_verdict, e.value.verdict,
                        e.value.chain.c_str()};
}

}  // namespace

void NftBatch::AddElements(IpFamily family, const std::string& table, const std::string& set,
                           std::span<const NftElement> elements, bool ranges) {
  Elements(
      NFT_MSG_NEWSETELEM, family, table, set, elements.size(),
      [&](size_t i) { return ViewOf(elements[i]); }, ranges);
}

void NftBatch::DeleteElements(IpFamily family, const std::string& table, const std::string& set,
                              std::span<const NftElement> elements, bool ranges) {
  Elements(
      NFT_MSG_DELSETELEM, family, table, set, elements.size(),
      [&](size_t i) { return ViewOf(elements[i]); }, ranges);
}

void NftBatch::AddElements(IpFamily family, const std::string& table, const std::string& set,
                           const NftElementList& list, std::span<const uint32_t> positions,
                           bool ranges) {
  Elements(
      NFT_MSG_NEWSETELEM, family, table, set, positions.size(),
      [&](size_t i) { return list.ViewAt(positions[i]); }, ranges);
}

void NftBatch::AddElements(IpFamily family, const std::string& table, const std::string& set,
                           const NftElementList& list, size_t begin, size_t end, bool ranges) {
  end = std::min(end, list.size());
  if (begin >= end) return;
  Elements(
      NFT_MSG_NEWSETELEM, family, table, set, end - begin,
      [&](size_t i) { return list.ViewAt(begin + i); }, ranges);
}

void NftBatch::DeleteElements(IpFamily family, const std::string& table, const std::string& set,
                              const NftElementList& list, std::span<const uint32_t> positions,
                              bool ranges) {
  Elements(
      NFT_MSG_DELSETELEM, family, table, set, positions.size(),
      [&](size_t i) { return list.ViewAt(positions[i]); }, ranges);
}

std::vector<uint8_t> NftBatch::BeginBytes() const {
  std::vector<char> scratch(1024);
  nlmsghdr* begin = nftnl_batch_begin(scratch.data(), first_seq_);
  if (genid_) mnl_attr_put_u32(begin, NFNL_BATCH_GENID, htobe32(*genid_));
  const auto* p = reinterpret_cast<const uint8_t*>(begin);
  return std::vector<uint8_t>(p, p + NLMSG_ALIGN(begin->nlmsg_len));
}

std::vector<uint8_t> NftBatch::EndBytes() const {
  std::vector<char> scratch(1024);
  nlmsghdr* end = nftnl_batch_end(scratch.data(), end_seq());
  const auto* p = reinterpret_cast<const uint8_t*>(end);
  return std::vector<uint8_t>(p, p + NLMSG_ALIGN(end->nlmsg_len));
}

std::vector<uint8_t> NftBatch::Bytes() const {
  // The last message already asks for the ACK (Appended).
  const std::vector<uint8_t> begin = BeginBytes(), end = EndBytes();
  std::vector<uint8_t> out;
  out.reserve(begin.size() + body_.size() + end.size());
  out.insert(out.end(), begin.begin(), begin.end());
  out.insert(out.end(), body_.begin(), body_.end());
  out.insert(out.end(), end.begin(), end.end());
  return out;
}

std::string NftBatch::Describe(uint32_t seq) const {
  if (seq <= first_seq_ || seq >= end_seq()) return "batch framing";
  const size_t i = seq - first_seq_ - 1;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(body_.data() + offsets_[i]);
  if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE) return descriptions_[i];
  NftRulePtr r(nftnl_rule_alloc());
  if (nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) return descriptions_[i];
  return descriptions_[i] + ": " + NftRuleText(r.get());
}

}  // namespace kpx
