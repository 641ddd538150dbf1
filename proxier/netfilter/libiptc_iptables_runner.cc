#include "proxier/netfilter/libiptc_iptables_runner.h"

// clang-format off
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
// libip6tc.h has no C++ linkage guard of its own.
extern "C" {
#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>
}
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_nfacct.h>
#include <linux/netfilter/xt_recent.h>
#include <linux/netfilter/xt_statistic.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>
#include <linux/netfilter_ipv6/ip6t_REJECT.h>
// clang-format on

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

#include <glog/logging.h>

#include "base/cidr.h"
#include "base/slot_index.h"
#include "proxier/netfilter/restore_pieces.h"
#include "proxier/netfilter/restore_reader.h"
#include "proxier/netfilter/restore_text.h"
#include "proxier/netfilter/rule_spec.h"
#include "proxier/netfilter/xt_rule_arena.h"
#include "proxier/netfilter/xt_table_socket.h"

namespace kpx {

namespace {

// The kernel ABI of the sctp match (struct xt_sctp_info). Its uapi header is not C++-clean (it
// uses _Bool and defines a function-like macro named `bytes`), so the layout is spelled here.
struct SctpInfo {
  uint16_t dpts[2];
  uint16_t spts[2];
  uint32_t chunkmap[256 / sizeof(uint32_t)];
  uint32_t chunk_match_type;
  struct {
    uint8_t chunktype, flag, flag_mask;
  } flag_info[4];
  int flag_count;
  uint32_t flags;
  uint32_t invflags;
};
constexpr uint32_t kSctpDestPorts = 0x02;  // XT_SCTP_DEST_PORTS

// The v4/v6 halves of libiptc behind one shape, so the runner is written once.
struct V4 {
  using Entry = ipt_entry;
  static xtc_handle* Init(const char* t) { return iptc_init(t); }
  static void Free(xtc_handle* h) { iptc_free(h); }
  static int Commit(xtc_handle* h) { return iptc_commit(h); }
  static const char* Error(int e) { return iptc_strerror(e); }
  static int IsChain(const char* c, xtc_handle* h) { return iptc_is_chain(c, h); }
  static int Builtin(const char* c, xtc_handle* h) { return iptc_builtin(c, h); }
  static int Create(const char* c, xtc_handle* h) { return iptc_create_chain(c, h); }
  static int Flush(const char* c, xtc_handle* h) { return iptc_flush_entries(c, h); }
  static int Delete(const char* c, xtc_handle* h) { return iptc_delete_chain(c, h); }
  static int Append(const char* c, const void* e, xtc_handle* h) {
    return iptc_append_entry(c, static_cast<const Entry*>(e), h);
  }
  static int Insert(const char* c, const void* e, xtc_handle* h) {
    return iptc_insert_entry(c, static_cast<const Entry*>(e), 0, h);
  }
  static int DeleteEntry(const char* c, const void* e, unsigned char* m, xtc_handle* h) {
    return iptc_delete_entry(c, static_cast<const Entry*>(e), m, h);
  }
  static int Check(const char* c, const void* e, unsigned char* m, xtc_handle* h) {
    return iptc_check_entry(c, static_cast<const Entry*>(e), m, h);
  }
  static int SetPolicy(const char* c, const char* p, xtc_handle* h) {
    return iptc_set_policy(c, p, nullptr, h);
  }
};

struct V6 {
  using Entry = ip6t_entry;
  static xtc_handle* Init(const char* t) { return ip6tc_init(t); }
  static void Free(xtc_handle* h) { ip6tc_free(h); }
  static int Commit(xtc_handle* h) { return ip6tc_commit(h); }
  static const char* Error(int e) { return ip6tc_strerror(e); }
  static int IsChain(const char* c, xtc_handle* h) { return ip6tc_is_chain(c, h); }
  static int Builtin(const char* c, xtc_handle* h) { return ip6tc_builtin(c, h); }
  static int Create(const char* c, xtc_handle* h) { return ip6tc_create_chain(c, h); }
  static int Flush(const char* c, xtc_handle* h) { return ip6tc_flush_entries(c, h); }
  static int Delete(const char* c, xtc_handle* h) { return ip6tc_delete_chain(c, h); }
  static int Append(const char* c, const void* e, xtc_handle* h) {
    return ip6tc_append_entry(c, static_cast<const Entry*>(e), h);
  }
  static int Insert(const char* c, const void* e, xtc_handle* h) {
    return ip6tc_insert_entry(c, static_cast<const Entry*>(e), 0, h);
  }
  static int DeleteEntry(const char* c, const void* e, unsigned char* m, xtc_handle* h) {
    return ip6tc_delete_entry(c, static_cast<const Entry*>(e), m, h);
  }
  static int Check(const char* c, const void* e, unsigned char* m, xtc_handle* h) {
    return ip6tc_check_entry(c, static_cast<const Entry*>(e), m, h);
  }
  static int SetPolicy(const char* c, const char* p, xtc_handle* h) {
    return ip6tc_set_policy(c, p, nullptr, h);
  }
};

// Copies `name` into a zeroed, NUL-terminated field of `size` bytes, cut to fit as strncpy did.
void CopyName(char* field, std::string_view name, size_t size) {
  std::memcpy(field, name.data(), std::min(name.size(), size - 1));
}

// Builds one entry at the end of `buf`: the family's header, then aligned matches, then the
// target. The entry is written where it will be handed on (a chain's rules, back to back).
class EntryBytes {
 public:
  EntryBytes(std::vector<unsigned char>& buf, size_t header) : buf_(buf), base_(buf.size()) {
    // Room for kpx's largest rules (comment, recent and DNAT) in a buffer just started.
    if (buf_.capacity() == 0) buf_.reserve(512);
    buf_.resize(base_ + header, 0);
  }
  template <typename T>
  void AddMatch(const char* name, uint8_t revision, const T& data) {
    Append(name, revision, &data, sizeof(T));
  }
  template <typename T>
  void SetTarget(const char* name, uint8_t revision, const T& data) {
    target_offset_ = size();
    Append(name, revision, &data, sizeof(T));
  }
  void SetStandardTarget(std::string_view name) {
    target_offset_ = size();
    xt_standard_target t{};
    const size_t size = XT_ALIGN(sizeof(xt_standard_target));
    const size_t at = buf_.size();
    buf_.resize(at + size, 0);
    t.target.u.user.target_size = static_cast<uint16_t>(size);
    CopyName(t.target.u.user.name, name, sizeof(t.target.u.user.name));
    std::memcpy(buf_.data() + at, &t, sizeof(t));
  }
  size_t target_offset() const { return target_offset_; }
  size_t size() const { return buf_.size() - base_; }
  // Valid until the buffer grows again.
  unsigned char* entry() { return buf_.data() + base_; }

 private:
  void Append(const char* name, uint8_t revision, const void* data, size_t len) {
    const size_t size = XT_ALIGN(sizeof(xt_entry_match)) + XT_ALIGN(len);
    const size_t at = buf_.size();
    buf_.resize(at + size, 0);
    // xt_entry_match and xt_entry_target share their user-visible layout.
    auto* m = reinterpret_cast<xt_entry_match*>(buf_.data() + at);
    m->u.user.match_size = static_cast<uint16_t>(size);
    std::strncpy(m->u.user.name, name, sizeof(m->u.user.name) - 1);
    m->u.user.revision = revision;
    std::memcpy(buf_.data() + at + XT_ALIGN(sizeof(xt_entry_match)), data, len);
  }
  std::vector<unsigned char>& buf_;
  size_t base_;
  size_t target_offset_ = 0;
};

Result<Cidr> ParseAddress(std::string_view text, IpFamily family) {
  std::optional<Cidr> c;
  if (text.find('/') == std::string_view::npos) {
    auto ip = IpAddress::Parse(text);
    if (ip) c = Cidr::Host(*ip);
  } else {
    c = Cidr::Parse(text);
  }
  if (!c || c->family() != family) return Status::Error("bad address " + std::string(text));
  return *c;
}

std::array<uint8_t, 16> Mask(int prefix) {
  std::array<uint8_t, 16> m{};
  for (int i = 0; i < 16; ++i) {
    const int bits = std::max(0, std::min(8, prefix - i * 8));
    m[i] = static_cast<uint8_t>((0xff00 >> bits) & 0xff);
  }
  return m;
}

Result<uint8_t> ProtocolNumber(std::string_view p) {
  if (p == "tcp") return static_cast<uint8_t>(IPPROTO_TCP);
  if (p == "udp") return static_cast<uint8_t>(IPPROTO_UDP);
  if (p == "sctp") return static_cast<uint8_t>(IPPROTO_SCTP);
  return Status::Error("unsupported protocol " + std::string(p));
}

void Interface(std::string_view name, char* out, unsigned char* mask) {
  const bool wildcard = name.ends_with('+');
  const std::string_view base = wildcard ? name.substr(0, name.size() - 1) : name;
  CopyName(out, base, IFNAMSIZ);
  const size_t n = std::min<size_t>(base.size() + (wildcard ? 0 : 1), IFNAMSIZ);
  std::memset(mask, 0xff, n);
}

// A number viewed in the text, copied to `out` with the NUL strtoul and strtod need; false when
// it does not fit (no number kpx reads is that long).
template <size_t N>
bool Terminated(std::string_view s, char (&out)[N]) {
  if (s.size() >= N) return false;
  std::memcpy(out, s.data(), s.size());
  out[s.size()] = '\0';
  return true;
}

// strtoul's own syntax (0x for hex, as iptables reads marks).
Result<uint32_t> Number(std::string_view s) {
  char text[24];
  if (!Terminated(s, text)) return Status::Error("bad number " + std::string(s));
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0' || v > 0xffffffffUL) {
    return Status::Error("bad number " + std::string(s));
  }
  return static_cast<uint32_t>(v);
}

Result<double> Fraction(std::string_view s) {
  // "0." and up to 15 digits, as the renderer prints probabilities: the digits as an integer
  // over a power of ten, both exact in a double, so the one division rounds as strtod would.
  if (s.size() > 2 && s.size() <= 17 && s.starts_with("0.")) {
    uint64_t digits = 0;
    double scale = 1;
    bool plain = true;
    for (char c : s.substr(2)) {
      if (c < '0' || c > '9') {
        plain = false;
        break;
      }
      digits = digits * 10 + static_cast<uint64_t>(c - '0');
      scale *= 10;
    }
    if (plain) return static_cast<double>(digits) / scale;
  }
  char text[40];
  if (!Terminated(s, text)) return Status::Error("bad number " + std::string(s));
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0') return Status::Error("bad number " + std::string(s));
  return v;
}

Result<uint16_t> Port(std::string_view s) {
  auto n = Number(s);
  if (!n.ok() || *n > 65535) return Status::Error("bad port " + std::string(s));
  return static_cast<uint16_t>(*n);
}

using MatchView = BasicRuleMatch<std::string_view>;

Status AddMatch(EntryBytes& e, const MatchView& m, IpFamily family) {
  auto dport = [&](uint16_t& lo, uint16_t& hi, bool& inv) -> Status {
    lo = 0;
    hi = 0xffff;
    for (const auto& o : m.options) {
      if (o.name != "--dport" && o.name != "--destination-port") {
        return Status::Error(std::string(m.module) + " option " + std::string(o.name) +
                             " unsupported");
      }
      auto p = Port(o.value());
      if (!p.ok()) return p.status();
      lo = hi = *p;
      inv = o.negated;
    }
    return Status::Ok();
  };
  if (m.module == "comment") {
    xt_comment_info c{};
    const auto* o = m.Find("--comment");
    if (!o) return Status::Error("comment without --comment");
    CopyName(c.comment, o->value(), XT_MAX_COMMENT_LEN);
    e.AddMatch("comment", 0, c);
  } else if (m.module == "tcp") {
    xt_tcp t{};
    t.spts[1] = 0xffff;
    bool inv = false;
    if (Status st = dport(t.dpts[0], t.dpts[1], inv); !st.ok()) return st;
    if (inv) t.invflags |= XT_TCP_INV_DSTPT;
    e.AddMatch("tcp", 0, t);
  } else if (m.module == "udp") {
    xt_udp u{};
    u.spts[1] = 0xffff;
    bool inv = false;
    if (Status st = dport(u.dpts[0], u.dpts[1], inv); !st.ok()) return st;
    if (inv) u.invflags |= XT_UDP_INV_DSTPT;
    e.AddMatch("udp", 0, u);
  } else if (m.module == "sctp") {
    SctpInfo s{};
    s.spts[1] = 0xffff;
    bool inv = false;
    if (Status st = dport(s.dpts[0], s.dpts[1], inv); !st.ok()) return st;
    s.flags = kSctpDestPorts;
    if (inv) s.invflags |= kSctpDestPorts;
    e.AddMatch("sctp", 0, s);
  } else if (m.module == "addrtype") {
    xt_addrtype_info_v1 a{};
    for (const auto& o : m.options) {
      if (o.value() != "LOCAL") {
        return Status::Error("addrtype " + std::string(o.value()) + " unsupported");
      }
      if (o.name == "--dst-type") {
        a.dest = XT_ADDRTYPE_LOCAL;
        if (o.negated) a.flags |= XT_ADDRTYPE_INVERT_DEST;
      } else if (o.name == "--src-type") {
        a.source = XT_ADDRTYPE_LOCAL;
        if (o.negated) a.flags |= XT_ADDRTYPE_INVERT_SOURCE;
      } else {
        return Status::Error("addrtype option " + std::string(o.name) + " unsupported");
      }
    }
    e.AddMatch("addrtype", 1, a);
  } else if (m.module == "statistic") {
    xt_statistic_info s{};
    const auto* p = m.Find("--probability");
    const auto* mode = m.Find("--mode");
    if (!p || !mode || mode->value() != "random") return Status::Error("statistic: random only");
    auto probability = Fraction(p->value());
    if (!probability.ok()) return probability.status();
    s.mode = XT_STATISTIC_MODE_RANDOM;
    s.u.random.probability = static_cast<uint32_t>(std::lround(0x80000000 * *probability));
    e.AddMatch("statistic", 0, s);
  } else if (m.module == "recent") {
    // Revision 1, as iptables writes it: the revision-0 layout reads back from iptables-save as
    // "[unsupported revision]" (iptables' extension only knows revision 1 now). The mask is the
    // whole address, which is what revision 0 meant.
    xt_recent_mtinfo_v1 r{};
    std::memset(&r.mask, 0xff, family == IpFamily::kIPv4 ? 4 : 16);
    r.side = XT_RECENT_SOURCE;
    for (const auto& o : m.options) {
      if (o.name == "--name") {
        CopyName(r.name, o.value(), XT_RECENT_NAME_LEN);
      } else if (o.name == "--set") {
        r.check_set |= XT_RECENT_SET;
      } else if (o.name == "--rcheck") {
        r.check_set |= XT_RECENT_CHECK;
      } else if (o.name == "--reap") {
        r.check_set |= XT_RECENT_REAP;
      } else if (o.name == "--seconds") {
        auto n = Number(o.value());
        if (!n.ok()) return n.status();
        r.seconds = *n;
      } else {
        return Status::Error("recent option " + std::string(o.name) + " unsupported");
      }
    }
    if (r.name[0] == '\0') std::strcpy(r.name, "DEFAULT");
    e.AddMatch("recent", 1, r);
  } else if (m.module == "nfacct") {
    // Revision 1 (the pointer aligned to 8 bytes whatever the ABI), as iptables writes it; the
    // kernel fills the pointer in.
    xt_nfacct_match_info_v1 a{};
    const auto* o = m.Find("--nfacct-name");
    if (!o || m.options.size() != 1) return Status::Error("nfacct: --nfacct-name only");
    CopyName(a.name, o->value(), NFACCT_NAME_MAX);
    e.AddMatch("nfacct", 1, a);
  } else if (m.module == "mark") {
    xt_mark_mtinfo1 k{};
    const auto* o = m.Find("--mark");
    if (!o) return Status::Error("mark without --mark");
    const std::string_view v = o->value();
    const auto slash = v.find('/');
    auto value = Number(v.substr(0, slash));
    auto mask = slash == std::string_view::npos ? Result<uint32_t>(0xffffffffu)
                                                : Number(v.substr(slash + 1));
    if (!value.ok() || !mask.ok()) return Status::Error("bad mark " + std::string(v));
    k.mark = *value;
    k.mask = *mask;
    k.invert = o->negated;
    e.AddMatch("mark", 1, k);
  } else if (m.module == "conntrack") {
    xt_conntrack_mtinfo3 c{};
    const auto* o = m.Find("--ctstate");
    if (!o || m.options.size() != 1) return Status::Error("conntrack: --ctstate only");
    c.match_flags = XT_CONNTRACK_STATE;
    if (o->negated) c.invert_flags = XT_CONNTRACK_STATE;
    size_t pos = 0;
    const std::string_view list = o->value();
    while (pos <= list.size()) {
      size_t comma = list.find(',', pos);
      if (comma == std::string_view::npos) comma = list.size();
      const std::string_view s = list.substr(pos, comma - pos);
      if (s == "NEW") {
        c.state_mask |= XT_CONNTRACK_STATE_BIT(IP_CT_NEW);
      } else if (s == "ESTABLISHED") {
        c.state_mask |= XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED);
      } else if (s == "RELATED") {
        c.state_mask |= XT_CONNTRACK_STATE_BIT(IP_CT_RELATED);
      } else if (s == "INVALID") {
        c.state_mask |= XT_CONNTRACK_STATE_INVALID;
      } else if (s == "DNAT") {
        c.state_mask |= XT_CONNTRACK_STATE_DNAT;
      } else if (s == "SNAT") {
        c.state_mask |= XT_CONNTRACK_STATE_SNAT;
      } else {
        return Status::Error("ctstate " + std::string(s) + " unsupported");
      }
      pos = comma + 1;
    }
    e.AddMatch("conntrack", 3, c);
  } else {
    return Status::Error("match " + std::string(m.module) + " unsupported by the libiptc runner");
  }
  (void)family;
  return Status::Ok();
}

Status SetTarget(EntryBytes& e, const RuleSpecView& r, IpFamily family) {
  const std::string_view t = r.target;
  if (r.is_goto) return Status::Error("goto unsupported by the libiptc runner");
  if (t.empty()) {
    e.SetStandardTarget("");
  } else if (t == "MARK") {
    xt_mark_tginfo2 m{};
    for (const auto& o : r.target_options) {
      const std::string_view v = o.value();
      const auto slash = v.find('/');
      auto value = Number(v.substr(0, slash));
      if (!value.ok()) return value.status();
      if (o.name == "--or-mark") {
        m.mark = m.mask = *value;
      } else if (o.name == "--xor-mark") {
        m.mark = *value;
        m.mask = 0;
      } else if (o.name == "--set-xmark" || o.name == "--set-mark") {
        auto mask = slash == std::string_view::npos ? Result<uint32_t>(0xffffffffu)
                                                    : Number(v.substr(slash + 1));
        if (!mask.ok()) return mask.status();
        m.mark = *value;
        m.mask = *mask;
      } else {
        return Status::Error("MARK option " + std::string(o.name) + " unsupported");
      }
    }
    e.SetTarget("MARK", 2, m);
  } else if (t == "DNAT") {
    const auto* o = r.FindTargetOption("--to-destination");
    if (!o) return Status::Error("DNAT without --to-destination");
    const std::string_view to = o->value();
    const auto colon = to.rfind(':');
    if (colon == std::string_view::npos) return Status::Error("DNAT needs ip:port");
    std::string_view host = to.substr(0, colon);
    if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
    auto ip = IpAddress::Parse(host);
    auto port = Port(to.substr(colon + 1));
    if (!ip || ip->family() != family || !port.ok()) {
      return Status::Error("bad DNAT " + std::string(to));
    }
    nf_nat_range2 range{};
    range.flags = NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED;
    std::memcpy(&range.min_addr, ip->bytes().data(), family == IpFamily::kIPv4 ? 4 : 16);
    range.max_addr = range.min_addr;
    range.min_proto.all = range.max_proto.all = htons(*port);
    e.SetTarget("DNAT", 2, range);
  } else if (t == "MASQUERADE") {
    unsigned int flags = 0;
    for (const auto& o : r.target_options) {
      if (o.name != "--random-fully") {
        return Status::Error("MASQUERADE option " + std::string(o.name));
      }
      flags |= NF_NAT_RANGE_PROTO_RANDOM_FULLY;
    }
    if (family == IpFamily::kIPv4) {
      nf_nat_ipv4_multi_range_compat m{};
      m.rangesize = 1;
      m.range[0].flags = flags;
      e.SetTarget("MASQUERADE", 0, m);
    } else {
      nf_nat_range m{};
      m.flags = flags;
      e.SetTarget("MASQUERADE", 0, m);
    }
  } else if (t == "REJECT") {
    if (!r.target_options.empty()) return Status::Error("REJECT options unsupported");
    if (family == IpFamily::kIPv4) {
      ipt_reject_info info{};
      info.with = IPT_ICMP_PORT_UNREACHABLE;
      e.SetTarget("REJECT", 0, info);
    } else {
      ip6t_reject_info info{};
      info.with = IP6T_ICMP6_PORT_UNREACH;
      e.SetTarget("REJECT", 0, info);
    }
  } else if (r.IsStandardTarget()) {
    if (!r.target_options.empty()) return Status::Error("options after -j " + std::string(t));
    e.SetStandardTarget(t);  // ACCEPT/DROP/RETURN or a chain: libiptc resolves the name
  } else {
    return Status::Error("target " + std::string(t) + " unsupported by the libiptc runner");
  }
  return Status::Ok();
}

template <typename Header>
Status FillHeader(Header& ip, const RuleSpecView& r, IpFamily family);

template <>
Status FillHeader(ipt_ip& ip, const RuleSpecView& r, IpFamily family) {
  if (r.source) {
    auto c = ParseAddress(r.source->value, family);
    if (!c.ok()) return c.status();
    std::memcpy(&ip.src, c->address().bytes().data(), 4);
    std::memcpy(&ip.smsk, Mask(c->prefix_length()).data(), 4);
    if (r.source->negated) ip.invflags |= IPT_INV_SRCIP;
  }
  if (r.destination) {
    auto c = ParseAddress(r.destination->value, family);
    if (!c.ok()) return c.status();
    std::memcpy(&ip.dst, c->address().bytes().data(), 4);
    std::memcpy(&ip.dmsk, Mask(c->prefix_length()).data(), 4);
    if (r.destination->negated) ip.invflags |= IPT_INV_DSTIP;
  }
  if (r.protocol) {
    auto p = ProtocolNumber(r.protocol->value);
    if (!p.ok()) return p.status();
    ip.proto = *p;
    if (r.protocol->negated) ip.invflags |= XT_INV_PROTO;
  }
  if (r.in_interface) {
    Interface(r.in_interface->value, ip.iniface, ip.iniface_mask);
    if (r.in_interface->negated) ip.invflags |= IPT_INV_VIA_IN;
  }
  if (r.out_interface) {
    Interface(r.out_interface->value, ip.outiface, ip.outiface_mask);
    if (r.out_interface->negated) ip.invflags |= IPT_INV_VIA_OUT;
  }
  return Status::Ok();
}

template <>
Status FillHeader(ip6t_ip6& ip, const RuleSpecView& r, IpFamily family) {
  if (r.source) {
    auto c = ParseAddress(r.source->value, family);
    if (!c.ok()) return c.status();
    std::memcpy(&ip.src, c->address().bytes().data(), 16);
    std::memcpy(&ip.smsk, Mask(c->prefix_length()).data(), 16);
    if (r.source->negated) ip.invflags |= IP6T_INV_SRCIP;
  }
  if (r.destination) {
    auto c = ParseAddress(r.destination->value, family);
    if (!c.ok()) return c.status();
    std::memcpy(&ip.dst, c->address().bytes().data(), 16);
    std::memcpy(&ip.dmsk, Mask(c->prefix_length()).data(), 16);
    if (r.destination->negated) ip.invflags |= IP6T_INV_DSTIP;
  }
  if (r.protocol) {
    auto p = ProtocolNumber(r.protocol->value);
    if (!p.ok()) return p.status();
    ip.proto = *p;
    ip.flags |= IP6T_F_PROTO;
    if (r.protocol->negated) ip.invflags |= XT_INV_PROTO;
  }
  if (r.in_interface) {
    Interface(r.in_interface->value, ip.iniface, ip.iniface_mask);
    if (r.in_interface->negated) ip.invflags |= IP6T_INV_VIA_IN;
  }
  if (r.out_interface) {
    Interface(r.out_interface->value, ip.outiface, ip.outiface_mask);
    if (r.out_interface->negated) ip.invflags |= IP6T_INV_VIA_OUT;
  }
  return Status::Ok();
}

ipt_ip& HeaderOf(ipt_entry& e) { return e.ip; }
ip6t_ip6& HeaderOf(ip6t_entry& e) { return e.ipv6; }

// Appends the rule's entry to `out`; on error, what it appended is left for the caller to cut.
template <typename Entry>
Status Encode(IpFamily family, std::span<const std::string_view> args,
              std::vector<unsigned char>& out) {
  // One spec per thread, parsed into again and again: its arrays keep their room, and a full
  // sync's 320 000 rules are read without an allocation each.
  thread_local RuleSpecView reused;
  if (Status st = RuleSpecView::ParseInto(args, reused); !st.ok()) return st;
  const RuleSpecView* spec = &reused;
  EntryBytes e(out, XT_ALIGN(sizeof(Entry)));
  for (const auto& m : spec->matches) {
    if (Status st = AddMatch(e, m, family); !st.ok()) return st;
  }
  if (Status st = SetTarget(e, *spec, family); !st.ok()) return st;
  auto* entry = reinterpret_cast<Entry*>(e.entry());
  if (Status st = FillHeader(HeaderOf(*entry), *spec, family); !st.ok()) return st;
  entry->target_offset = static_cast<uint16_t>(e.target_offset());
  entry->next_offset = static_cast<uint16_t>(e.size());
  return Status::Ok();
}

Status EncodeInto(IpFamily family, std::span<const std::string_view> args,
                  std::vector<unsigned char>& out) {
  return family == IpFamily::kIPv4 ? Encode<ipt_entry>(family, args, out)
                                   : Encode<ip6t_entry>(family, args, out);
}

// One table opened with libiptc; freed on scope exit, committed explicitly.
template <typename F>
class Handle {
 public:
  static Result<std::unique_ptr<Handle>> Open(const std::string& table) {
    xtc_handle* h = F::Init(table.c_str());
    if (h == nullptr) {
      return Status::Error("libiptc: cannot open table " + table + ": " + F::Error(errno));
    }
    return std::unique_ptr<Handle>(new Handle(h, table));
  }
  ~Handle() { F::Free(h_); }
  xtc_handle* get() { return h_; }
  Status Fail(const std::string& what) const {
    return Status::Error("libiptc " + table_ + ": " + what + ": " + F::Error(errno));
  }
  Status Commit() { return F::Commit(h_) ? Status::Ok() : Fail("commit"); }

 private:
  Handle(xtc_handle* h, std::string table) : h_(h), table_(std::move(table)) {}
  xtc_handle* h_;
  std::string table_;
};

// Applies one section through libiptc: what the blob path declines (built-in chains, -D).
template <typename F>
Status RestoreSectionWithLibiptc(IpFamily family, const RestoreTable& section) {
  auto opened = Handle<F>::Open(section.name);
  if (!opened.ok()) return opened.status();
  auto& h = *opened.value();
  // libiptc takes NUL-terminated names: each is copied out of the text once.
  auto declare = [&](const RestoreChainDecl& decl) -> Status {
    const std::string decl_name(decl.name);
    const char* name = decl_name.c_str();
    if (F::IsChain(name, h.get()) && F::Builtin(name, h.get())) {
      if (decl.policy != "-" && !F::SetPolicy(name, std::string(decl.policy).c_str(), h.get())) {
        return h.Fail("policy " + decl_name);
      }
    } else if (F::IsChain(name, h.get())) {
      if (!F::Flush(name, h.get())) return h.Fail("flush " + decl_name);
    } else if (!F::Create(name, h.get())) {
      return h.Fail("create " + decl_name);
    }
    return Status::Ok();
  };
  auto command = [&](const RestoreCommand& cmd) -> Status {
    const std::string where = "line " + std::to_string(cmd.line) + ": ";
    const std::string chain_name(cmd.chain);
    const char* chain = chain_name.c_str();
    using K = RestoreCommand::Kind;
    switch (cmd.kind) {
      case K::kAppend:
      case K::kInsert:
      case K::kDeleteRule: {
        auto entry = EncodeIptEntry(family, cmd.args);
        if (!entry.ok()) return Status::Error(where + entry.status().message());
        int ok = 0;
        if (cmd.kind == K::kAppend) {
          ok = F::Append(chain, entry->data(), h.get());
        } else if (cmd.kind == K::kInsert) {
          ok = F::Insert(chain, entry->data(), h.get());
        } else {
          std::vector<unsigned char> mask(entry->size(), 0xff);
          ok = F::DeleteEntry(chain, entry->data(), mask.data(), h.get());
        }
        if (!ok) return h.Fail(where + "rule in " + chain_name);
        break;
      }
      case K::kNewChain:
        if (!F::Create(chain, h.get())) return h.Fail(where + "create " + chain_name);
        break;
      case K::kFlushChain:
        if (!F::Flush(chain, h.get())) return h.Fail(where + "flush " + chain_name);
        break;
      case K::kDeleteChain:
        if (!F::Delete(chain, h.get())) return h.Fail(where + "delete " + chain_name);
        break;
    }
    return Status::Ok();
  };
  // In the order of the lines, as iptables-restore takes them: a declaration after a rule of
  // its chain flushes that rule (the blob path leaves such a section to this one).
  size_t d = 0, c = 0;
  while (d < section.chains.size() || c < section.commands.size()) {
    const bool decl_next =
        c == section.commands.size() ||
        (d < section.chains.size() && section.chains[d].line < section.commands[c].line);
    const Status st = decl_next ? declare(section.chains[d++]) : command(section.commands[c++]);
    if (!st.ok()) return st;
  }
  return h.Commit();
}

// The "*table ... COMMIT" sections of restore text given in pieces of whole lines (one piece:
// the text itself), each with its first and last lines, found from the lines' first bytes only (a
// line is never continued, quoted or not). A section views the pieces it spans, the first and
// last cut at its lines. nullopt when the text is not made of such sections: its parse then says
// what is wrong.
struct SectionText {
  std::string name;
  std::vector<std::string_view> pieces;
  int first_line = 1;   // in the whole text
  size_t declared = 0;  // its ":chain" lines
};
std::optional<std::vector<SectionText>> SplitSections(std::span<const std::string_view> pieces) {
  std::vector<SectionText> out;
  bool open = false;
  size_t start_piece = 0, start_at = 0;
  int line_no = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::string_view text = pieces[i];
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t at = pos;
      const std::string_view line = RestoreText::NextLine(text, pos);
      ++line_no;
      if (line.starts_with('*')) {
        if (open) return std::nullopt;
        open = true;
        start_piece = i;
        start_at = at;
        out.push_back({std::string(line.substr(1)), {}, line_no});
      } else if (line == "COMMIT") {
        if (!open) return std::nullopt;
        std::vector<std::string_view>& section = out.back().pieces;
        const size_t end = std::min(pos, text.size());
        if (start_piece == i) {
          section.push_back(text.substr(start_at, end - start_at));
        } else {
          section.push_back(pieces[start_piece].substr(start_at));
          for (size_t j = start_piece + 1; j < i; ++j) section.push_back(pieces[j]);
          section.push_back(text.substr(0, end));
        }
        open = false;
      } else if (open && line.starts_with(':')) {
        ++out.back().declared;
      } else if (!open && !line.empty() && line[0] != '#') {
        return std::nullopt;
      }
    }
  }
  if (open) return std::nullopt;
  return out;
}

// The section as edits of user chains, with libiptc's --noflush semantics: a declared chain is
// flushed or created, -N creates (and fails on an existing chain), -F flushes, -X deletes an
// empty chain, -A/-I add to an existing one. nullopt when the section declares or changes a
// built-in chain or deletes single rules: those keep going through libiptc.
// The section (its "*table" and COMMIT lines included) is read as it is planned: a full sync's
// 320 000 rules are encoded line by line, nothing of the text kept but what the encoding wrote.
// A section that declares a chain after a command is left to the libiptc path, which takes the
// lines in order as iptables-restore does (here, declarations are all read before the edits).
// The rules appended are encoded into `arena`, which must outlive the edits.
Result<std::optional<std::vector<XtChainEdit>>> PlanSection(IpFamily family,
                                                            const SectionText& section,
                                                            const XtTableBlob& table,
                                                            XtRuleArena& arena) {
  using Plan = std::optional<std::vector<XtChainEdit>>;
  // The edits are made where they are returned, one per chain named, with what the plan knows
  // of each chain beside them. Room for the declared chains is made up front: a full sync's
  // 110 000 edits (17 MB) were built in a deque and moved into the vector returned, fresh memory
  // written twice.
  struct Known {
    bool exists = false;
    bool builtin = false;
  };
  std::vector<XtChainEdit> edits;
  std::vector<Known> known;
  edits.reserve(section.declared);
  known.reserve(section.declared);
  // Looked up once per chain declared and once per chain's first rule (a full sync's 110 000
  // each), the table asked only the first time a chain is named. The edits are the slots: a
  // node map of their names cost a malloc each and a cache miss per lookup.
  SlotIndex index;
  std::vector<size_t> hashes;  // per edit
  const std::hash<std::string_view> hash;
  // A chain's rules come one after another: most lines name the chain the line before did.
  size_t last = SIZE_MAX;
  // The chain's edit (valid until the next call: the vector may grow) and what is known of it.
  auto state = [&](std::string_view name) -> size_t {
    if (last < edits.size() && edits[last].name == name) return last;
    index.Reserve([&](uint32_t slot) { return hashes[slot]; });
    const size_t h = hash(name);
    const size_t pos =
        index.Find(h, [&](uint32_t slot) { return hashes[slot] == h && edits[slot].name == name; });
    if (const uint32_t found = index.at(pos); found != SlotIndex::kEmpty) {
      last = found;
      return last;
    }
    last = edits.size();
    XtChainEdit& e = edits.emplace_back();
    e.name = name;
    e.keep_rules = true;
    e.after = XtRules(&arena);
    Known& k = known.emplace_back();
    k.exists = table.HasChain(name);
    k.builtin = k.exists && table.IsBuiltin(name);
    hashes.push_back(h);
    index.Insert(pos, static_cast<uint32_t>(last));
    return last;
  };
  // Drops the chain's rules, as a flush (or a creation) does.
  auto empty = [&](size_t i) {
    XtChainEdit& e = edits[i];
    e.keep_rules = false;
    e.remove = false;
    e.before.clear();
    e.after.clear();
    known[i].exists = true;
  };
  const std::string where_table = "x_tables " + section.name + ": ";
  RestoreReader reader(section.pieces, section.first_line);
  bool commands_seen = false;
  for (;;) {
    auto more = reader.Next();
    if (!more.ok()) return Status::Error(where_table + more.status().message());
    if (!*more || reader.kind() == RestoreReader::Kind::kCommit) break;
    if (reader.kind() == RestoreReader::Kind::kTable) continue;
    if (reader.kind() == RestoreReader::Kind::kChain) {
      if (commands_seen) return Plan();
      const size_t i = state(reader.chain().name);
      if (known[i].builtin) return Plan();
      empty(i);
      continue;
    }
    commands_seen = true;
    const RestoreCommand& cmd = reader.command();
    using K = RestoreCommand::Kind;
    const size_t i = state(cmd.chain);
    XtChainEdit& e = edits[i];
    Known& k = known[i];
    if (cmd.kind == K::kDeleteRule || k.builtin) return Plan();
    auto where = [&] { return where_table + "line " + std::to_string(cmd.line) + ": "; };
    if (cmd.kind == K::kNewChain) {
      if (k.exists) {
        return Status::Error(where() + "create " + std::string(cmd.chain) + ": chain exists");
      }
      empty(i);
      continue;
    }
    if (!k.exists) return Status::Error(where() + std::string(cmd.chain) + ": no such chain");
    switch (cmd.kind) {
      case K::kAppend:
      case K::kInsert: {
        Status encoded;
        auto encode = [&](std::vector<unsigned char>& out) {
          encoded = EncodeInto(family, cmd.args, out);
          return encoded.ok();
        };
        if (cmd.kind == K::kAppend) {
          e.after.AppendEncoded(encode);
        } else {
          std::vector<unsigned char> entry;
          if (encode(entry)) e.before.Prepend(entry);
        }
        if (!encoded.ok()) return Status::Error(where() + encoded.message());
        break;
      }
      case K::kFlushChain:
        empty(i);
        break;
      case K::kDeleteChain:
        if (!e.before.empty() || !e.after.empty() ||
            (e.keep_rules && table.RuleCount(cmd.chain) > 0)) {
          return Status::Error(where() + "delete " + std::string(cmd.chain) +
                               ": chain is not empty");
        }
        e.remove = true;
        e.keep_rules = false;
        k.exists = false;
        break;
      default:
        break;
    }
  }
  // Created and deleted again: nothing to do in the table.
  std::erase_if(edits, [&](const XtChainEdit& e) { return e.remove && !table.HasChain(e.name); });
  return Plan(std::move(edits));
}

template <typename F>
Status RestoreFamily(IpFamily family, std::span<const std::string_view> pieces, bool edit_blobs,
                     XtTableSocket& tables, LibiptcIptablesRunner::Stats& stats) {
  auto sections = SplitSections(pieces);
  if (!sections) {
    const std::string text = JoinPieces(pieces);
    auto parsed = RestoreText::Parse(text);
    return parsed.ok() ? Status::Error("restore input: lines outside a table") : parsed.status();
  }
  for (const SectionText& section : *sections) {
    Result<bool> edited = false;
    if (edit_blobs) {
      XtRuleArena arena;
      edited = tables.Edit(
          family, section.name,
          [&](const XtTableBlob& table) { return PlanSection(family, section, table, arena); },
          &arena);
    }
    if (!edited.ok()) return edited.status();
    if (*edited) {
      ++stats.edited_sections;
      continue;
    }
    if (edit_blobs) {
      VLOG(2) << "x_tables " << section.name << ": section changes built-in chains or deletes "
              << "rules, applied through libiptc";
    }
    // Numbered as in the whole text, as the blob path's errors are.
    const std::string joined = JoinPieces(section.pieces);
    auto parsed = RestoreText::Parse(joined, section.first_line);
    if (!parsed.ok()) return parsed.status();
    // libiptc writes behind the kept copy's back (or may have, on failure).
    tables.Forget(family, section.name);
    if (Status st = RestoreSectionWithLibiptc<F>(family, parsed->front()); !st.ok()) return st;
    ++stats.libiptc_sections;
  }
  return Status::Ok();
}

template <typename F>
Result<bool> EnsureJumpFamily(IpFamily family, const JumpRule& rule) {
  auto opened = Handle<F>::Open(rule.table);
  if (!opened.ok()) return opened.status();
  auto& h = *opened.value();
  bool changed = false;
  if (!F::IsChain(rule.target.c_str(), h.get())) {
    if (!F::Create(rule.target.c_str(), h.get())) return h.Fail("create " + rule.target);
    changed = true;
  }
  auto entry = EncodeIptEntry(family, rule.RuleArgs());
  if (!entry.ok()) return entry.status();
  std::vector<unsigned char> mask(entry->size(), 0xff);
  const bool present = F::Check(rule.chain.c_str(), entry->data(), mask.data(), h.get());
  if (!present) {
    const int ok = rule.prepend ? F::Insert(rule.chain.c_str(), entry->data(), h.get())
                                : F::Append(rule.chain.c_str(), entry->data(), h.get());
    if (!ok) return h.Fail("add jump to " + rule.chain);
    changed = true;
  }
  if (changed) {
    if (Status st = h.Commit(); !st.ok()) return st;
  }
  return !present;
}

template <typename F>
Result<bool> DeleteJumpFamily(IpFamily family, const JumpRule& rule) {
  auto opened = Handle<F>::Open(rule.table);
  if (!opened.ok()) return opened.status();
  auto& h = *opened.value();
  if (!F::IsChain(rule.target.c_str(), h.get())) return false;  // nothing can jump to it
  auto entry = EncodeIptEntry(family, rule.RuleArgs());
  if (!entry.ok()) return entry.status();
  std::vector<unsigned char> mask(entry->size(), 0xff);
  bool found = false;
  while (F::DeleteEntry(rule.chain.c_str(), entry->data(), mask.data(), h.get())) found = true;
  if (found) {
    if (Status st = h.Commit(); !st.ok()) return st;
  }
  return found;
}

template <typename F>
Status DeleteChainsFamily(std::string_view table, const std::vector<std::string>& chains) {
  auto opened = Handle<F>::Open(std::string(table));
  if (!opened.ok()) return opened.status();
  auto& h = *opened.value();
  std::vector<const std::string*> present;
  for (const auto& c : chains) {
    if (F::IsChain(c.c_str(), h.get()) && !F::Builtin(c.c_str(), h.get())) present.push_back(&c);
  }
  if (present.empty()) return Status::Ok();
  for (const auto* c : present) {
    if (!F::Flush(c->c_str(), h.get())) return h.Fail("flush " + *c);
  }
  for (const auto* c : present) {
    if (!F::Delete(c->c_str(), h.get())) return h.Fail("delete " + *c);
  }
  return h.Commit();
}

}  // namespace

Result<std::vector<unsigned char>> EncodeIptEntry(IpFamily family,
                                                  std::span<const std::string_view> args) {
  std::vector<unsigned char> out;
  if (Status st = EncodeInto(family, args, out); !st.ok()) return st;
  return out;
}

Result<std::vector<unsigned char>> EncodeIptEntry(IpFamily family,
                                                  const std::vector<std::string>& args) {
  const std::vector<std::string_view> views(args.begin(), args.end());
  return EncodeIptEntry(family, std::span<const std::string_view>(views));
}

LibiptcIptablesRunner::LibiptcIptablesRunner() : LibiptcIptablesRunner(Options()) {}

LibiptcIptablesRunner::LibiptcIptablesRunner(const Options& options)
    : edit_blobs_(options.edit_blobs),
      lock_(options.lock_path.empty() ? nullptr : std::make_unique<XtablesLock>(options.lock_path)),
      lock_wait_(options.lock_wait),
      tables_(options.tables) {
  if (lock_ && !options.tables.others_may_have_written) {
    tables_.Watch([lock = lock_.get()] { return lock->OthersMayHaveWrittenSinceLastCall(); });
  }
}

Result<std::optional<XtablesLock::Guard>> LibiptcIptablesRunner::Lock() {
  if (!lock_) return std::optional<XtablesLock::Guard>();
  auto guard = lock_->Acquire(lock_wait_);
  if (guard.ok()) return std::optional<XtablesLock::Guard>(std::move(guard.value()));
  // A file nobody here can open (no /run in a bare container, a read-only mount) excludes no
  // one: failing every sync for it would only leave the rules stale. The watch then answers
  // "maybe written" every time, so kept tables are always read back.
  if (!lock_->Openable()) {
    LOG_FIRST_N(WARNING, 1) << guard.status().message()
                            << "; writing x_tables without the xtables lock";
    return std::optional<XtablesLock::Guard>();
  }
  return guard.status();
}

Result<std::optional<XtablesLock::Guard>> LibiptcIptablesRunner::LockForLibiptc(
    IpFamily family, const std::string& table) {
  auto guard = Lock();
  // libiptc commits behind the kept copy's back.
  if (guard.ok()) tables_.Forget(family, table);
  return guard;
}

Status LibiptcIptablesRunner::Restore(IpFamily family, std::string_view text) {
  return RestoreInPieces(family, std::span<const std::string_view>(&text, 1));
}

Status LibiptcIptablesRunner::RestoreInPieces(IpFamily family,
                                              std::span<const std::string_view> pieces) {
  auto guard = Lock();
  if (!guard.ok()) return guard.status();
  return family == IpFamily::kIPv4
             ? RestoreFamily<V4>(family, pieces, edit_blobs_, tables_, stats_)
             : RestoreFamily<V6>(family, pieces, edit_blobs_, tables_, stats_);
}

void LibiptcIptablesRunner::RecordMetrics(MetricsRegistry& metrics) const {
  const char* kEdits = "kpx_iptables_table_edits_total";
  const char* kEditsHelp =
      "x_tables edits by what they started from: the table kpx kept from its last write, or the "
      "table read back from the kernel";
  const XtTableSocket::Stats& t = tables_.stats();
  metrics.GetCounter(kEdits, kEditsHelp, {{"start", "kept"}})
      ->Set(static_cast<double>(t.kept_uses));
  metrics.GetCounter(kEdits, kEditsHelp, {{"start", "read"}})->Set(static_cast<double>(t.reads));
  metrics
      .GetCounter("kpx_iptables_kept_tables_dropped_total",
                  "Kept tables found possibly changed by another writer (table info, the xtables "
                  "lock's watch) or due to be read back")
      ->Set(static_cast<double>(t.kept_dropped));
}

// Without the lock, like iptables-legacy-save: a read that races a replace is retried (EAGAIN).
Result<std::string> LibiptcIptablesRunner::Save(IpFamily family, std::string_view table) {
  std::string out = "*" + std::string(table) + "\n";
  Status st = XtTableSocket::Read(family, std::string(table), [&](const XtTableBlob& blob) {
    for (const auto& c : blob.Chains()) {
      out.push_back(':');
      out += c.name;
      out.push_back(' ');
      out += c.policy;
      out += " [0:0]\n";
    }
  });
  if (!st.ok()) return st;
  return out + "COMMIT\n";
}

Result<bool> LibiptcIptablesRunner::EnsureJump(IpFamily family, const JumpRule& rule) {
  auto guard = LockForLibiptc(family, rule.table);
  if (!guard.ok()) return guard.status();
  return family == IpFamily::kIPv4 ? EnsureJumpFamily<V4>(family, rule)
                                   : EnsureJumpFamily<V6>(family, rule);
}

Result<bool> LibiptcIptablesRunner::DeleteJump(IpFamily family, const JumpRule& rule) {
  auto guard = LockForLibiptc(family, rule.table);
  if (!guard.ok()) return guard.status();
  return family == IpFamily::kIPv4 ? DeleteJumpFamily<V4>(family, rule)
                                   : DeleteJumpFamily<V6>(family, rule);
}

Status LibiptcIptablesRunner::DeleteChains(IpFamily family, std::string_view table,
                                           const std::vector<std::string>& chains) {
  auto guard = LockForLibiptc(family, std::string(table));
  if (!guard.ok()) return guard.status();
  return family == IpFamily::kIPv4 ? DeleteChainsFamily<V4>(table, chains)
                                   : DeleteChainsFamily<V6>(table, chains);
}

}  // namespace kpx
