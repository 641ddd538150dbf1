#include "proxier/netfilter/netlink_conntrack.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace kpx {
namespace {

// A dump message carries at most ~32 KiB of entries; a larger buffer only wastes memory.
constexpr size_t kReceiveBufferSize = 64 * 1024;
// Deletes sent in one sendmsg. Each is acknowledged; 64 small acks (NETLINK_CAP_ACK) fit the
// default receive buffer several times over, so none is dropped.
constexpr size_t kDeleteBatch = 64;
// Buffer room per delete message. The largest is ~140 bytes (headers, an IPv6 original tuple
// with ports, tuple zone, zone, id: DeleteKey's attributes and nothing else), so a batch always
// fits in this much per message.
constexpr size_t kMaxDeleteMessage = 512;
// A kernel that stops answering must not hang the sync loop.
constexpr int kReceiveTimeoutSeconds = 10;

struct CtFree {
  void operator()(nf_conntrack* ct) const { nfct_destroy(ct); }
};
using CtPtr = std::unique_ptr<nf_conntrack, CtFree>;

uint8_t L3Num(IpFamily family) { return family == IpFamily::kIPv4 ? AF_INET : AF_INET6; }

std::string Errno(int err) { return std::strerror(err); }

bool AddressIs(const nf_conntrack* ct, nf_conntrack_attr v4, nf_conntrack_attr v6,
               const IpAddress& want) {
  const bool is_v4 = want.family() == IpFamily::kIPv4;
  const nf_conntrack_attr attr = is_v4 ? v4 : v6;
  if (!nfct_attr_is_set(ct, attr)) return false;
  return std::memcmp(nfct_get_attr(ct, attr), want.bytes().data(), is_v4 ? 4 : 16) == 0;
}

// What `conntrack -D` (conntrack-tools) selects for the same options, so both adapters delete the
// same entries: -f and -p compare the original tuple's protocols, --orig-dst and --orig-port-dst
// its destination, and --dst-nat X selects entries whose destination was rewritten
// (libnetfilter_conntrack's "is DNAT": DNAT done and the reply comes from another address than
// the client sent to) and whose reply source, the endpoint, is X.
bool Matches(const ConntrackFilter& f, const nf_conntrack* ct) {
  if (!nfct_attr_is_set(ct, ATTR_ORIG_L3PROTO) ||
      nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) != L3Num(f.family)) {
    return false;
  }
  if (!nfct_attr_is_set(ct, ATTR_ORIG_L4PROTO) ||
      nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO) != IpProtocolNumber(f.protocol)) {
    return false;
  }
  if (f.orig_dst && !AddressIs(ct, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST, *f.orig_dst)) {
    return false;
  }
  if (f.orig_dst_port && (!nfct_attr_is_set(ct, ATTR_ORIG_PORT_DST) ||
                          ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST)) != *f.orig_dst_port)) {
    return false;
  }
  if (f.dst_nat && (nfct_getobjopt(ct, NFCT_GOPT_IS_DNAT) != 1 ||
                    !AddressIs(ct, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC, *f.dst_nat))) {
    return false;
  }
  return true;
}

// The part of an entry a delete needs: the original tuple finds it, the zone says where, and the
// id makes the kernel refuse (ENOENT) an entry that reused the tuple after the dump.
CtPtr DeleteKey(const nf_conntrack* ct) {
  static constexpr nf_conntrack_attr kKeyAttrs[] = {ATTR_ORIG_L3PROTO,
                                                    ATTR_ORIG_L4PROTO,
                                                    ATTR_ORIG_IPV4_SRC,
                                                    ATTR_ORIG_IPV4_DST,
                                                    ATTR_ORIG_IPV6_SRC,
                                                    ATTR_ORIG_IPV6_DST,
                                                    ATTR_ORIG_PORT_SRC,
                                                    ATTR_ORIG_PORT_DST,
                                                    ATTR_ORIG_ZONE,
                                                    ATTR_ZONE,
                                                    ATTR_ID};
  CtPtr key(nfct_new());
  if (!key) return key;
  for (const auto attr : kKeyAttrs) {
    if (nfct_attr_is_set(ct, attr)) nfct_set_attr(key.get(), attr, nfct_get_attr(ct, attr));
  }
  return key;
}

// The kernel's CTA_FILTER flag bits (net/netfilter/nf_internals.h, not exported as a header;
// stable since Linux 5.8, and what conntrack-tools sends).
constexpr uint32_t kFilterIpDst = 1u << 1;
constexpr uint32_t kFilterProtoNum = 1u << 3;
constexpr uint32_t kFilterProtoDstPort = 1u << 5;

// Narrows a dump request to entries every filter could match: the protocol, and the original
// destination port or IPv4 address when all filters name the same one (the cleaner's filters for
// one service usually do). Kernels before 5.8 ignore the attribute and send the whole family, which
// the user-space match then narrows; so this only ever saves work, it never decides a match.
void PutKernelFilter(nlmsghdr* nlh, IpFamily family,
                     const std::vector<const ConntrackFilter*>& filters) {
  const ConntrackFilter& first = *filters.front();
  auto all = [&](auto same) {
    return std::all_of(filters.begin(), filters.end(),
                       [&](const ConntrackFilter* f) { return same(*f); });
  };
  if (!all([&](const ConntrackFilter& f) { return f.protocol == first.protocol; })) return;
  // IPv6 addresses are left to user space: the kernel's IPv6 address filter keeps the entries
  // whose address differs (its comparison is inverted; seen on 6.18, the tests show it), so
  // asking for one would hide exactly the entries wanted.
  const bool same_dst = family == IpFamily::kIPv4 && first.orig_dst &&
                        first.orig_dst->family() == family &&
                        all([&](const ConntrackFilter& f) { return f.orig_dst == first.orig_dst; });
  const bool same_port =
      first.orig_dst_port && *first.orig_dst_port > 0 && *first.orig_dst_port < 65536 &&
      all([&](const ConntrackFilter& f) { return f.orig_dst_port == first.orig_dst_port; });
  uint32_t flags = kFilterProtoNum;
  nlattr* tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
  if (same_dst) {
    nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
    mnl_attr_put(nlh, CTA_IP_V4_DST, 4, first.orig_dst->bytes().data());
    mnl_attr_nest_end(nlh, ip);
    flags |= kFilterIpDst;
  }
  nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
  mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IpProtocolNumber(first.protocol));
  if (same_port) {
    mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(static_cast<uint16_t>(*first.orig_dst_port)));
    flags |= kFilterProtoDstPort;
  }
  mnl_attr_nest_end(nlh, proto);
  mnl_attr_nest_end(nlh, tuple);
  nlattr* filter = mnl_attr_nest_start(nlh, CTA_FILTER);
  mnl_attr_put_u32(nlh, CTA_FILTER_ORIG_FLAGS, flags);
  mnl_attr_nest_end(nlh, filter);
}

nlmsghdr* PutHeader(char* buf, uint16_t type, uint16_t flags, uint32_t seq, uint8_t family) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | type);
  nlh->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = family;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  return nlh;
}

struct DumpState {
  const std::vector<const ConntrackFilter*>* filters;
  std::vector<CtPtr> matches;
  uint64_t dumped = 0;
  bool out_of_memory = false;
};

int OnDumpedEntry(const nlmsghdr* nlh, void* data) {
  auto* state = static_cast<DumpState*>(data);
  ++state->dumped;
  CtPtr ct(nfct_new());
  if (!ct) {
    state->out_of_memory = true;
    return MNL_CB_ERROR;
  }
  // An entry the library cannot parse cannot match a filter either; the dump goes on.
  if (nfct_nlmsg_parse(nlh, ct.get()) < 0) return MNL_CB_OK;
  for (const ConntrackFilter* f : *state->filters) {
    if (Matches(*f, ct.get())) {
      state->matches.push_back(std::move(ct));
      break;
    }
  }
  return MNL_CB_OK;
}

}  // namespace

NetlinkConntrack::~NetlinkConntrack() { Close(); }

Status NetlinkConntrack::Open() {
  if (sock_) return Status::Ok();
  sock_ = mnl_socket_open(NETLINK_NETFILTER);
  if (!sock_) return Status::Error("conntrack: netlink socket: " + Errno(errno));
  if (mnl_socket_bind(sock_, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int err = errno;
    Close();
    return Status::Error("conntrack: netlink bind: " + Errno(err));
  }
  // Acks without a copy of the request: smaller, so a batch of them never fills the buffer.
  // Kernels without the option (before 4.3) send full acks, which still fit.
  int one = 1;
  mnl_socket_setsockopt(sock_, NETLINK_CAP_ACK, &one, sizeof(one));
  timeval timeout{};
  timeout.tv_sec = kReceiveTimeoutSeconds;
  setsockopt(mnl_socket_get_fd(sock_), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  portid_ = mnl_socket_get_portid(sock_);
  return Status::Ok();
}

void NetlinkConntrack::Close() {
  if (sock_) mnl_socket_close(sock_);
  sock_ = nullptr;
}

Status NetlinkConntrack::Delete(const std::vector<ConntrackFilter>& filters) {
  last_deleted_ = 0;
  last_dumped_ = 0;
  Status result = Status::Ok();
  for (IpFamily family : kIpFamilies) {
    std::vector<const ConntrackFilter*> mine;
    for (const auto& f : filters) {
      if (f.family == family) mine.push_back(&f);
    }
    if (mine.empty()) continue;
    // One family failing must not keep the other's stale entries.
    if (Status st = DeleteInFamily(family, mine); !st.ok() && result.ok()) result = st;
  }
  return result;
}

Status NetlinkConntrack::DeleteInFamily(IpFamily family,
                                        const std::vector<const ConntrackFilter*>& filters) {
  if (Status st = Open(); !st.ok()) return st;
  std::string what = "conntrack " + filters.front()->ToString();
  if (filters.size() > 1) what += " and " + std::to_string(filters.size() - 1) + " more filters";
  // Any failure below may leave unread messages on the socket; a fresh one starts clean.
  auto fail = [&](const std::string& message) {
    Close();
    return Status::Error(what + ": " + message);
  };
  std::vector<char> buf(kReceiveBufferSize);

  // 1. Dump the family's entries (the kernel filters by the family in the request header) and
  //    keep the matches. Deleting from inside the dump would interleave acks with dump parts.
  DumpState state{&filters, {}, 0, false};
  const uint32_t dump_seq = ++seq_;
  nlmsghdr* nlh = PutHeader(buf.data(), IPCTNL_MSG_CT_GET, NLM_F_DUMP, dump_seq, L3Num(family));
  PutKernelFilter(nlh, family, filters);
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0)
    return fail("dump request: " + Errno(errno));
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("dump: " + Errno(errno));
    }
    const int r =
        mnl_cb_run(buf.data(), static_cast<size_t>(n), dump_seq, portid_, OnDumpedEntry, &state);
    if (r == MNL_CB_STOP) break;
    if (r < 0) return fail(state.out_of_memory ? "dump: out of memory" : "dump: " + Errno(errno));
  }
  last_dumped_ += state.dumped;

  // 2. Delete the matches, kDeleteBatch requests per sendmsg, each acknowledged.
  uint64_t deleted = 0;
  std::string refused;  // the first error other than "already gone"
  size_t refusals = 0;
  for (size_t start = 0; start < state.matches.size(); start += kDeleteBatch) {
    const size_t count = std::min(kDeleteBatch, state.matches.size() - start);
    std::vector<char> out(count * kMaxDeleteMessage);
    size_t used = 0;
    const uint32_t first_seq = seq_ + 1;
    for (size_t i = 0; i < count; ++i) {
      CtPtr key = DeleteKey(state.matches[start + i].get());
      if (!key) return fail("delete: out of memory");
      nlmsghdr* del =
          PutHeader(out.data() + used, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, ++seq_, L3Num(family));
      if (nfct_nlmsg_build(del, key.get()) < 0) return fail("delete: build: " + Errno(errno));
      used += del->nlmsg_len;
    }
    if (mnl_socket_sendto(sock_, out.data(), used) < 0) return fail("delete: " + Errno(errno));
    size_t pending = count;
    while (pending > 0) {
      ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail("delete acks: " + Errno(errno));
      }
      int len = static_cast<int>(n);
      for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len);
           m = mnl_nlmsg_next(m, &len)) {
        if (!mnl_nlmsg_portid_ok(m, portid_) || m->nlmsg_seq - first_seq >= count) continue;
        if (m->nlmsg_type != NLMSG_ERROR) continue;
        if (m->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) return fail("delete: short ack");
        const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
        --pending;
        if (e->error == 0) {
          ++deleted;
        } else if (e->error != -ENOENT) {  // ENOENT: expired or deleted since the dump
          if (refusals++ == 0) refused = Errno(-e->error);
        }
      }
    }
  }
  last_deleted_ += deleted;
  if (refusals > 0) {
    return Status::Error(what + ": the kernel refused " + std::to_string(refusals) + " of " +
                         std::to_string(state.matches.size()) + " deletions: " + refused);
  }
  return Status::Ok();
}

}  // namespace kpx
