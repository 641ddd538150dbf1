#include "proxier/ipvs/ipvs_messages.h"

#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "proxier/ipvs/netlink_writer.h"

namespace kpx {
namespace {

constexpr uint16_t kAckedRequest = NLM_F_REQUEST | NLM_F_ACK;
constexpr uint16_t kDumpRequest = NLM_F_REQUEST | NLM_F_DUMP;

uint16_t AddressFamily(IpFamily f) { return f == IpFamily::kIPv4 ? AF_INET : AF_INET6; }

NetlinkWriter Start(const NetlinkRequestHeader& h, uint16_t flags, uint8_t command) {
  NetlinkWriter w(h.family_id, flags, h.seq, h.port_id);
  w.PutGenlHeader(command, IPVS_GENL_VERSION);
  return w;
}

// The attributes that name a virtual server (all the kernel needs to find one).
void PutServiceKey(NetlinkWriter& w, const IpvsServiceKey& key) {
  w.PutU16(IPVS_SVC_ATTR_AF, AddressFamily(key.family()));
  w.PutU16(IPVS_SVC_ATTR_PROTOCOL, IpProtocolNumber(key.protocol));
  w.PutBytes(IPVS_SVC_ATTR_ADDR, key.address.bytes().data(), key.address.bytes().size());
  w.PutBe16(IPVS_SVC_ATTR_PORT, key.port);
}

void PutServiceKeyNested(NetlinkWriter& w, const IpvsServiceKey& key) {
  const size_t nest = w.BeginNested(IPVS_CMD_ATTR_SERVICE);
  PutServiceKey(w, key);
  w.EndNested(nest);
}

// A "full entry": the kernel refuses NEW/SET_SERVICE without scheduler, flags, timeout, netmask.
std::vector<uint8_t> BuildFullService(const NetlinkRequestHeader& h, uint8_t command,
                                      const IpvsService& svc) {
  NetlinkWriter w = Start(h, kAckedRequest, command);
  const size_t nest = w.BeginNested(IPVS_CMD_ATTR_SERVICE);
  PutServiceKey(w, svc.key);
  w.PutString(IPVS_SVC_ATTR_SCHED_NAME, svc.scheduler);
  // The mask covers every bit so an update clears persistence as well as setting it.
  const ip_vs_flags flags{svc.flags, 0xffffffffu};
  w.PutBytes(IPVS_SVC_ATTR_FLAGS, &flags, sizeof(flags));
  w.PutU32(IPVS_SVC_ATTR_TIMEOUT, svc.timeout);
  w.PutU32(IPVS_SVC_ATTR_NETMASK, svc.netmask);
  w.EndNested(nest);
  return std::move(w).Finish();
}

std::vector<uint8_t> BuildFullDest(const NetlinkRequestHeader& h, uint8_t command,
                                   const IpvsServiceKey& svc, const IpvsDestination& dest) {
  NetlinkWriter w = Start(h, kAckedRequest, command);
  PutServiceKeyNested(w, svc);
  const size_t nest = w.BeginNested(IPVS_CMD_ATTR_DEST);
  w.PutBytes(IPVS_DEST_ATTR_ADDR, dest.key.address.bytes().data(), dest.key.address.bytes().size());
  w.PutBe16(IPVS_DEST_ATTR_PORT, dest.key.port);
  w.PutU32(IPVS_DEST_ATTR_FWD_METHOD, dest.forward_method);
  w.PutU32(IPVS_DEST_ATTR_WEIGHT, static_cast<uint32_t>(dest.weight));
  w.PutU32(IPVS_DEST_ATTR_U_THRESH, dest.upper_threshold);
  w.PutU32(IPVS_DEST_ATTR_L_THRESH, dest.lower_threshold);
  w.PutU16(IPVS_DEST_ATTR_ADDR_FAMILY, AddressFamily(dest.key.address.family()));
  w.EndNested(nest);
  return std::move(w).Finish();
}

using AttributeMap = std::map<uint16_t, std::span<const uint8_t>>;

// Attributes at one level; the last of duplicate types wins, as in nla_parse.
std::optional<AttributeMap> ParseAttributes(std::span<const uint8_t> data) {
  AttributeMap out;
  size_t off = 0;
  while (off + NLA_HDRLEN <= data.size()) {
    nlattr a;
    std::memcpy(&a, data.data() + off, sizeof(a));
    if (a.nla_len < NLA_HDRLEN || off + a.nla_len > data.size()) return std::nullopt;
    out[a.nla_type & NLA_TYPE_MASK] = data.subspan(off + NLA_HDRLEN, a.nla_len - NLA_HDRLEN);
    off += NLA_ALIGN(a.nla_len);
  }
  return out;
}

template <typename T>
std::optional<T> Get(const AttributeMap& attrs, uint16_t type) {
  auto it = attrs.find(type);
  if (it == attrs.end() || it->second.size() < sizeof(T)) return std::nullopt;
  T v;
  std::memcpy(&v, it->second.data(), sizeof(T));
  return v;
}

std::optional<uint16_t> GetBe16(const AttributeMap& attrs, uint16_t type) {
  auto it = attrs.find(type);
  if (it == attrs.end() || it->second.size() < 2) return std::nullopt;
  return static_cast<uint16_t>((it->second[0] << 8) | it->second[1]);
}

std::optional<IpFamily> FamilyOf(uint16_t af) {
  if (af == AF_INET) return IpFamily::kIPv4;
  if (af == AF_INET6) return IpFamily::kIPv6;
  return std::nullopt;
}

std::optional<IpAddress> GetAddress(const AttributeMap& attrs, uint16_t type, IpFamily family) {
  auto it = attrs.find(type);
  const size_t need = family == IpFamily::kIPv4 ? 4 : 16;
  if (it == attrs.end() || it->second.size() < need) return std::nullopt;
  std::array<uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), it->second.data(), need);
  return IpAddress::FromBytes(family, bytes);
}

// The top-level attributes of a generic-netlink message with the expected command.
Result<AttributeMap> GenlAttributes(const NetlinkMessage& msg, uint8_t command) {
  if (msg.payload.size() < GENL_HDRLEN) return Status::Error("short generic netlink message");
  genlmsghdr g;
  std::memcpy(&g, msg.payload.data(), sizeof(g));
  if (g.cmd != command) {
    return Status::Error("unexpected IPVS command " + std::to_string(g.cmd));
  }
  auto attrs = ParseAttributes(msg.payload.subspan(GENL_HDRLEN));
  if (!attrs) return Status::Error("malformed attributes");
  return *attrs;
}

Result<AttributeMap> Nested(const AttributeMap& attrs, uint16_t type, const char* what) {
  auto it = attrs.find(type);
  if (it == attrs.end()) return Status::Error(std::string("missing ") + what);
  auto inner = ParseAttributes(it->second);
  if (!inner) return Status::Error(std::string("malformed ") + what);
  return *inner;
}

}  // namespace

std::vector<uint8_t> BuildNewServiceRequest(const NetlinkRequestHeader& h, const IpvsService& svc) {
  return BuildFullService(h, IPVS_CMD_NEW_SERVICE, svc);
}

std::vector<uint8_t> BuildSetServiceRequest(const NetlinkRequestHeader& h, const IpvsService& svc) {
  return BuildFullService(h, IPVS_CMD_SET_SERVICE, svc);
}

std::vector<uint8_t> BuildDelServiceRequest(const NetlinkRequestHeader& h,
                                            const IpvsServiceKey& svc) {
  NetlinkWriter w = Start(h, kAckedRequest, IPVS_CMD_DEL_SERVICE);
  PutServiceKeyNested(w, svc);
  return std::move(w).Finish();
}

std::vector<uint8_t> BuildGetServicesRequest(const NetlinkRequestHeader& h) {
  return Start(h, kDumpRequest, IPVS_CMD_GET_SERVICE).Finish();
}

std::vector<uint8_t> BuildNewDestRequest(const NetlinkRequestHeader& h, const IpvsServiceKey& svc,
                                         const IpvsDestination& dest) {
  return BuildFullDest(h, IPVS_CMD_NEW_DEST, svc, dest);
}

std::vector<uint8_t> BuildSetDestRequest(const NetlinkRequestHeader& h, const IpvsServiceKey& svc,
                                         const IpvsDestination& dest) {
  return BuildFullDest(h, IPVS_CMD_SET_DEST, svc, dest);
}

std::vector<uint8_t> BuildDelDestRequest(const NetlinkRequestHeader& h, const IpvsServiceKey& svc,
                                         const IpvsDestinationKey& dest) {
  NetlinkWriter w = Start(h, kAckedRequest, IPVS_CMD_DEL_DEST);
  PutServiceKeyNested(w, svc);
  const size_t nest = w.BeginNested(IPVS_CMD_ATTR_DEST);
  w.PutBytes(IPVS_DEST_ATTR_ADDR, dest.address.bytes().data(), dest.address.bytes().size());
  w.PutBe16(IPVS_DEST_ATTR_PORT, dest.port);
  w.PutU16(IPVS_DEST_ATTR_ADDR_FAMILY, AddressFamily(dest.address.family()));
  w.EndNested(nest);
  return std::move(w).Finish();
}

std::vector<uint8_t> BuildGetDestsRequest(const NetlinkRequestHeader& h,
                                          const IpvsServiceKey& svc) {
  NetlinkWriter w = Start(h, kDumpRequest, IPVS_CMD_GET_DEST);
  PutServiceKeyNested(w, svc);
  return std::move(w).Finish();
}

std::vector<uint8_t> BuildSetConfigRequest(const NetlinkRequestHeader& h, const IpvsTimeouts& t) {
  NetlinkWriter w = Start(h, kAckedRequest, IPVS_CMD_SET_CONFIG);
  w.PutU32(IPVS_CMD_ATTR_TIMEOUT_TCP, t.tcp);
  w.PutU32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, t.tcp_fin);
  w.PutU32(IPVS_CMD_ATTR_TIMEOUT_UDP, t.udp);
  return std::move(w).Finish();
}

std::vector<uint8_t> BuildGetConfigRequest(const NetlinkRequestHeader& h) {
  // GET_CONFIG is a plain request: the kernel answers with one SET_CONFIG message and, because
  // of NLM_F_ACK, an ACK after it, so the reader knows when the exchange is over.
  return Start(h, kAckedRequest, IPVS_CMD_GET_CONFIG).Finish();
}

Result<std::vector<NetlinkMessage>> SplitNetlinkMessages(std::span<const uint8_t> data) {
  std::vector<NetlinkMessage> out;
  size_t off = 0;
  while (off < data.size()) {
    if (data.size() - off < NLMSG_HDRLEN) return Status::Error("truncated netlink header");
    nlmsghdr h;
    std::memcpy(&h, data.data() + off, sizeof(h));
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > data.size() - off) {
      return Status::Error("bad netlink message length " + std::to_string(h.nlmsg_len));
    }
    NetlinkMessage m;
    m.type = h.nlmsg_type;
    m.flags = h.nlmsg_flags;
    m.seq = h.nlmsg_seq;
    m.port_id = h.nlmsg_pid;
    m.payload = data.subspan(off + NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN);
    out.push_back(m);
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  return out;
}

Result<int> ParseErrorMessage(const NetlinkMessage& msg) {
  if (msg.type != NLMSG_ERROR) return Status::Error("not an NLMSG_ERROR message");
  int32_t error = 0;
  if (msg.payload.size() < sizeof(error)) return Status::Error("short NLMSG_ERROR message");
  std::memcpy(&error, msg.payload.data(), sizeof(error));
  return -error;
}

Result<IpvsService> ParseServiceMessage(const NetlinkMessage& msg) {
  auto top = GenlAttributes(msg, IPVS_CMD_NEW_SERVICE);
  if (!top.ok()) return top.status();
  auto attrs = Nested(*top, IPVS_CMD_ATTR_SERVICE, "service attribute");
  if (!attrs.ok()) return attrs.status();
  const auto af = Get<uint16_t>(*attrs, IPVS_SVC_ATTR_AF);
  const auto family = af ? FamilyOf(*af) : std::nullopt;
  if (!family) return Status::Error("service without a known address family");
  if (auto fwmark = Get<uint32_t>(*attrs, IPVS_SVC_ATTR_FWMARK); fwmark && *fwmark != 0) {
    return Status::Error("firewall-mark service " + std::to_string(*fwmark));
  }
  IpvsService svc;
  const auto proto = Get<uint16_t>(*attrs, IPVS_SVC_ATTR_PROTOCOL);
  if (!proto || !ProtocolFromNumber(*proto, &svc.key.protocol)) {
    return Status::Error("service with unsupported protocol");
  }
  const auto addr = GetAddress(*attrs, IPVS_SVC_ATTR_ADDR, *family);
  const auto port = GetBe16(*attrs, IPVS_SVC_ATTR_PORT);
  if (!addr || !port) return Status::Error("service without address or port");
  svc.key.address = *addr;
  svc.key.port = *port;
  if (auto it = attrs->find(IPVS_SVC_ATTR_SCHED_NAME); it != attrs->end()) {
    std::string name(it->second.begin(), it->second.end());
    name.resize(strnlen(name.c_str(), name.size()));
    svc.scheduler = name;
  }
  if (auto flags = Get<ip_vs_flags>(*attrs, IPVS_SVC_ATTR_FLAGS)) svc.flags = flags->flags;
  svc.timeout = Get<uint32_t>(*attrs, IPVS_SVC_ATTR_TIMEOUT).value_or(0);
  svc.netmask = Get<uint32_t>(*attrs, IPVS_SVC_ATTR_NETMASK).value_or(0);
  return svc;
}

Result<IpvsDestination> ParseDestinationMessage(const NetlinkMessage& msg,
                                                IpFamily service_family) {
  auto top = GenlAttributes(msg, IPVS_CMD_NEW_DEST);
  if (!top.ok()) return top.status();
  auto attrs = Nested(*top, IPVS_CMD_ATTR_DEST, "destination attribute");
  if (!attrs.ok()) return attrs.status();
  IpFamily family = service_family;
  if (auto af = Get<uint16_t>(*attrs, IPVS_DEST_ATTR_ADDR_FAMILY)) {
    auto f = FamilyOf(*af);
    if (!f) return Status::Error("destination with unknown address family");
    family = *f;
  }
  const auto addr = GetAddress(*attrs, IPVS_DEST_ATTR_ADDR, family);
  const auto port = GetBe16(*attrs, IPVS_DEST_ATTR_PORT);
  if (!addr || !port) return Status::Error("destination without address or port");
  IpvsDestination d;
  d.key.address = *addr;
  d.key.port = *port;
  d.forward_method =
      Get<uint32_t>(*attrs, IPVS_DEST_ATTR_FWD_METHOD).value_or(0) & IP_VS_CONN_F_FWD_MASK;
  d.weight = static_cast<int32_t>(Get<uint32_t>(*attrs, IPVS_DEST_ATTR_WEIGHT).value_or(0));
  d.upper_threshold = Get<uint32_t>(*attrs, IPVS_DEST_ATTR_U_THRESH).value_or(0);
  d.lower_threshold = Get<uint32_t>(*attrs, IPVS_DEST_ATTR_L_THRESH).value_or(0);
  d.active_connections = Get<uint32_t>(*attrs, IPVS_DEST_ATTR_ACTIVE_CONNS).value_or(0);
  d.inactive_connections = Get<uint32_t>(*attrs, IPVS_DEST_ATTR_INACT_CONNS).value_or(0);
  d.persistent_connections = Get<uint32_t>(*attrs, IPVS_DEST_ATTR_PERSIST_CONNS).value_or(0);
  return d;
}

Result<IpvsTimeouts> ParseConfigMessage(const NetlinkMessage& msg) {
  auto attrs = GenlAttributes(msg, IPVS_CMD_SET_CONFIG);
  if (!attrs.ok()) return attrs.status();
  IpvsTimeouts t;
  t.tcp = Get<uint32_t>(*attrs, IPVS_CMD_ATTR_TIMEOUT_TCP).value_or(0);
  t.tcp_fin = Get<uint32_t>(*attrs, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN).value_or(0);
  t.udp = Get<uint32_t>(*attrs, IPVS_CMD_ATTR_TIMEOUT_UDP).value_or(0);
  return t;
}

}  // namespace kpx
