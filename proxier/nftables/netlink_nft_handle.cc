#include "proxier/nftables/netlink_nft_handle.h"

#include <glog/logging.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <vector>

#include "proxier/nftables/nft_dump_codec.h"
#include "proxier/nftables/nft_rule_codec.h"

namespace kpx {

namespace {

struct DumpContext {
  NftTableDump* dump;
  std::string table;
  // Where an element dump goes: a map, or a compact list.
  std::map<std::string, NftValue>* elements = nullptr;
  const NftHandle::ElementVisitor* each = nullptr;
};

int ChainCb(const nlmsghdr* nlh, void* data) {
  auto* ctx = static_cast<DumpContext*>(data);
  nftnl_chain* c = nftnl_chain_alloc();
  if (nftnl_chain_nlmsg_parse(nlh, c) == 0 &&
      ctx->table == nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE)) {
    ctx->dump->chains[nftnl_chain_get_str(c, NFTNL_CHAIN_NAME)] = NftChainDumpOf(c);
  }
  nftnl_chain_free(c);
  return MNL_CB_OK;
}

int RuleCb(const nlmsghdr* nlh, void* data) {
  auto* ctx = static_cast<DumpContext*>(data);
  nftnl_rule* r = nftnl_rule_alloc();
  if (nftnl_rule_nlmsg_parse(nlh, r) == 0 &&
      ctx->table == nftnl_rule_get_str(r, NFTNL_RULE_TABLE)) {
    ctx->dump->chains[nftnl_rule_get_str(r, NFTNL_RULE_CHAIN)].rules.push_back(NftRuleText(r));
  }
  nftnl_rule_free(r);
  return MNL_CB_OK;
}

int SetCb(const nlmsghdr* nlh, void* data) {
  auto* ctx = static_cast<DumpContext*>(data);
  nftnl_set* s = nftnl_set_alloc();
  if (nftnl_set_nlmsg_parse(nlh, s) == 0 && ctx->table == nftnl_set_get_str(s, NFTNL_SET_TABLE)) {
    NftSetSpec spec = NftSetSpecOf(s);
    ctx->dump->sets[spec.name].spec = spec;
  }
  nftnl_set_free(s);
  return MNL_CB_OK;
}

int ElemCb(const nlmsghdr* nlh, void* data) {
  auto* ctx = static_cast<DumpContext*>(data);
  nftnl_set* s = nftnl_set_alloc();
  if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0) {
    // nftnl_set_elem_foreach, not the iterator: nftnl_set_elems_iter_next hands out the first
    // element twice.
    nftnl_set_elem_foreach(
        s,
        [](nftnl_set_elem* e, void* data) {
          auto* ctx = static_cast<DumpContext*>(data);
          bool has_key = false;
          std::string key;
          NftValue v = NftValueOf(e, &has_key, &key);
          if (!has_key) return 0;
          if (ctx->each != nullptr) {
            (*ctx->each)(key, v);
          } else {
            (*ctx->elements)[key] = std::move(v);
          }
          return 0;
        },
        ctx);
  }
  nftnl_set_free(s);
  return MNL_CB_OK;
}

}  // namespace

NetlinkNftHandle::~NetlinkNftHandle() {
  if (nl_ != nullptr) mnl_socket_close(nl_);
}

Status NetlinkNftHandle::Open(size_t max_batch_bytes) {
  nl_ = mnl_socket_open(NETLINK_NETFILTER);
  if (nl_ == nullptr) {
    return Status::Error(std::string("nftables: cannot open netlink socket: ") +
                         std::strerror(errno));
  }
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    return Status::Error(std::string("nftables: cannot bind netlink socket: ") +
                         std::strerror(errno));
  }
  portid_ = mnl_socket_get_portid(nl_);
  const int fd = mnl_socket_get_fd(nl_);
  // A transaction is one sendmsg: the send buffer must hold the largest batch. FORCE needs
  // CAP_NET_ADMIN, which kpx has; fall back to the capped variant otherwise.
  int snd = static_cast<int>(max_batch_bytes * 2 + (1 << 16));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
  }
  int rcv = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
  }
  seq_ = static_cast<uint32_t>(time(nullptr));
  return Status::Ok();
}

Status NetlinkNftHandle::Commit(const NftBatch& batch) {
  if (nl_ == nullptr) return Status::Error("nftables: handle not open");
  if (batch.empty()) return Status::Ok();
  // Gathered from the batch's own buffer: a copy of the whole transaction (4 MiB in a full sync)
  // would only be one more moment of twice the memory.
  std::vector<uint8_t> begin = batch.BeginBytes(), end = batch.EndBytes();
  const std::span<const uint8_t> body = batch.Body();
  iovec iov[3] = {{begin.data(), begin.size()},
                  {const_cast<uint8_t*>(body.data()), body.size()},
                  {end.data(), end.size()}};
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = sizeof(to);
  msg.msg_iov = iov;
  msg.msg_iovlen = 3;
  const size_t total = begin.size() + body.size() + end.size();
  if (sendmsg(mnl_socket_get_fd(nl_), &msg, 0) < 0) {
    const int err = errno;
    return Status::Error("nftables: sending a batch of " + std::to_string(total) +
                         " bytes failed: " + NftErrnoText(err));
  }
  // nfnetlink processes the batch inside sendmsg, so every reply is queued by now; the last
  // message carries NLM_F_ACK, and any failing message gets an error of its own.
  const uint32_t last_seq = batch.end_seq() - 1;
  std::string errors;
  int error_count = 0;
  bool acked = false;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  const int fd = mnl_socket_get_fd(nl_);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, acked || !errors.empty() ? 0 : 5000);
    if (ready <= 0) break;
    const ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      errors += std::string("; receive: ") + NftErrnoText(errno);
      break;
    }
    size_t len = static_cast<size_t>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, reinterpret_cast<int*>(&len))) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0) {
        // The first refusal explains the rest, which often fail in its wake.
        if (++error_count <= 3) {
          errors += "; " + batch.Describe(nlh->nlmsg_seq) + ": " + NftErrnoText(-err->error);
        }
      } else if (nlh->nlmsg_seq == last_seq) {
        acked = true;
      }
    }
  }
  if (error_count > 3) errors += "; and " + std::to_string(error_count - 3) + " more";
  if (!errors.empty()) return Status::Error("nftables: transaction refused" + errors);
  if (!acked) return Status::Error("nftables: no acknowledgement for the transaction");
  return Status::Ok();
}

Status NetlinkNftHandle::Request(const void* msg, size_t len, int (*cb)(const ::nlmsghdr*, void*),
                                 void* data, const std::string& what) {
  if (mnl_socket_sendto(nl_, msg, len) < 0) {
    return Status::Error("nftables: " + what + ": " + NftErrnoText(errno));
  }
  const uint32_t seq = static_cast<const nlmsghdr*>(msg)->nlmsg_seq;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0) return Status::Error("nftables: " + what + ": " + NftErrnoText(errno));
    const int ret = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid_, cb, data);
    if (ret < 0) {
      const int err = errno;
      if (err == ENOENT) return Status::Ok();  // the table (or set) does not exist
      return Status::Error("nftables: " + what + ": " + NftErrnoText(err));
    }
    if (ret == MNL_CB_STOP) return Status::Ok();
  }
}

Result<NftTableDump> NetlinkNftHandle::Dump(IpFamily family, const std::string& table) {
  auto structure = DumpStructure(family, table);
  if (!structure.ok()) return structure.status();
  NftTableDump dump = std::move(structure).value();
  for (auto& [name, set] : dump.sets) {
    DumpContext ctx{&dump, table, &set.elements, nullptr};
    if (Status st = RequestElements(family, table, name, &ctx); !st.ok()) return st;
  }
  return dump;
}

Status NetlinkNftHandle::DumpElements(IpFamily family, const std::string& table,
                                      const std::string& set, const ElementVisitor& each) {
  if (nl_ == nullptr) return Status::Error("nftables: handle not open");
  DumpContext ctx{nullptr, table, nullptr, &each};
  return RequestElements(family, table, set, &ctx);
}

Status NetlinkNftHandle::RequestElements(IpFamily family, const std::string& table,
                                         const std::string& set, void* ctx) {
  std::vector<char> scratch(MNL_SOCKET_BUFFER_SIZE);
  nftnl_set* s = nftnl_set_alloc();
  nftnl_set_set_str(s, NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s, NFTNL_SET_NAME, set.c_str());
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(scratch.data(), NFT_MSG_GETSETELEM, NftFamilyProto(family),
                                        NLM_F_DUMP, ++seq_);
  nftnl_set_elems_nlmsg_build_payload(nlh, s);
  nftnl_set_free(s);
  return Request(nlh, nlh->nlmsg_len, ElemCb, ctx,
                 std::string("listing ") + NftFamilyName(family) + " " + table + " set " + set);
}

Result<NftTableDump> NetlinkNftHandle::DumpStructure(IpFamily family, const std::string& table) {
  if (nl_ == nullptr) return Status::Error("nftables: handle not open");
  NftTableDump dump;
  DumpContext ctx{&dump, table};
  std::vector<char> scratch(MNL_SOCKET_BUFFER_SIZE);
  char* buf = scratch.data();
  const uint16_t fam = NftFamilyProto(family);
  const std::string what = std::string("listing ") + NftFamilyName(family) + " " + table;

  // The table itself: a plain GET answers ENOENT when it is missing.
  {
    nftnl_table* t = nftnl_table_alloc();
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, table.c_str());
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, fam, NLM_F_ACK, ++seq_);
    nftnl_table_nlmsg_build_payload(nlh, t);
    nftnl_table_free(t);
    bool found = false;
    auto cb = [](const nlmsghdr*, void* d) {
      *static_cast<bool*>(d) = true;
      return MNL_CB_OK;
    };
    Status st = Request(nlh, nlh->nlmsg_len, cb, &found, what);
    if (!st.ok()) return st;
    if (!found) return dump;
    dump.exists = true;
  }
  {
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, fam, NLM_F_DUMP, ++seq_);
    Status st = Request(nlh, nlh->nlmsg_len, ChainCb, &ctx, what + " chains");
    if (!st.ok()) return st;
  }
  {
    nftnl_rule* r = nftnl_rule_alloc();
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table.c_str());
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, fam, NLM_F_DUMP, ++seq_);
    nftnl_rule_nlmsg_build_payload(nlh, r);
    nftnl_rule_free(r);
    Status st = Request(nlh, nlh->nlmsg_len, RuleCb, &ctx, what + " rules");
    if (!st.ok()) return st;
  }
  {
    nftnl_set* s = nftnl_set_alloc();
    nftnl_set_set_str(s, NFTNL_SET_TABLE, table.c_str());
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, fam, NLM_F_DUMP, ++seq_);
    nftnl_set_nlmsg_build_payload(nlh, s);
    nftnl_set_free(s);
    Status st = Request(nlh, nlh->nlmsg_len, SetCb, &ctx, what + " sets");
    if (!st.ok()) return st;
  }
  return dump;
}

Result<uint32_t> NetlinkNftHandle::Generation() {
  if (nl_ == nullptr) return Status::Error("nftables: handle not open");
  std::vector<char> scratch(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(scratch.data(), NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, ++seq_);
  std::optional<uint32_t> genid;
  auto cb = [](const nlmsghdr* h, void* data) {
    nftnl_gen* g = nftnl_gen_alloc();
    if (nftnl_gen_nlmsg_parse(h, g) == 0 && nftnl_gen_is_set(g, NFTNL_GEN_ID)) {
      *static_cast<std::optional<uint32_t>*>(data) = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
    }
    nftnl_gen_free(g);
    return MNL_CB_OK;
  };
  Status st = Request(nlh, nlh->nlmsg_len, cb, &genid, "reading the ruleset generation");
  if (!st.ok()) return st;
  if (!genid) return Status::Error("nftables: the kernel did not report a ruleset generation");
  return *genid;
}

Result<std::map<std::string, NftValue>> NetlinkNftHandle::DumpSet(IpFamily family,
                                                                  const std::string& table,
                                                                  const std::string& set) {
  if (nl_ == nullptr) return Status::Error("nftables: handle not open");
  std::map<std::string, NftValue> elements;
  DumpContext ctx{nullptr, table, &elements, nullptr};
  if (Status st = RequestElements(family, table, set, &ctx); !st.ok()) return st;
  return elements;
}

}  // namespace kpx
