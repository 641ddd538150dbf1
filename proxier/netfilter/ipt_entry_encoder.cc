#include "proxier/netfilter/ipt_entry_encoder.h"

// clang-format off
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
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
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>

#include "base/cidr.h"
#include "proxier/netfilter/rule_spec.h"

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
  // The tcp, udp and sctp matches alike: any source port, the destination port given (any
  // without one), its negation on the match's own flag bit; then the match is added.
  auto ports = [&](const char* name, auto info, uint32_t inverted) -> Status {
    info.spts[1] = 0xffff;
    info.dpts[0] = 0;
    info.dpts[1] = 0xffff;
    bool inv = false;
    for (const auto& o : m.options) {
      if (o.name != "--dport" && o.name != "--destination-port") {
        return Status::Error(std::string(m.module) + " option " + std::string(o.name) +
                             " unsupported");
      }
      auto p = Port(o.value());
      if (!p.ok()) return p.status();
      info.dpts[0] = info.dpts[1] = *p;
      inv = o.negated;
    }
    if (inv) info.invflags |= static_cast<decltype(info.invflags)>(inverted);
    e.AddMatch(name, 0, info);
    return Status::Ok();
  };
  if (m.module == "comment") {
    xt_comment_info c{};
    const auto* o = m.Find("--comment");
    if (!o) return Status::Error("comment without --comment");
    CopyName(c.comment, o->value(), XT_MAX_COMMENT_LEN);
    e.AddMatch("comment", 0, c);
  } else if (m.module == "tcp") {
    return ports("tcp", xt_tcp{}, XT_TCP_INV_DSTPT);
  } else if (m.module == "udp") {
    return ports("udp", xt_udp{}, XT_UDP_INV_DSTPT);
  } else if (m.module == "sctp") {
    SctpInfo s{};
    s.flags = kSctpDestPorts;
    return ports("sctp", s, kSctpDestPorts);
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

// What differs between the two families' headers: the address width, the flag bits, and the
// IPv6 flag saying that the protocol is to be matched.
template <typename Header>
struct HeaderTraits;
template <>
struct HeaderTraits<ipt_ip> {
  static constexpr size_t kAddressBytes = 4;
  static constexpr uint8_t kInvSource = IPT_INV_SRCIP, kInvDestination = IPT_INV_DSTIP;
  static constexpr uint8_t kInvIn = IPT_INV_VIA_IN, kInvOut = IPT_INV_VIA_OUT;
  static constexpr uint8_t kMatchProtocol = 0;
};
template <>
struct HeaderTraits<ip6t_ip6> {
  static constexpr size_t kAddressBytes = 16;
  static constexpr uint8_t kInvSource = IP6T_INV_SRCIP, kInvDestination = IP6T_INV_DSTIP;
  static constexpr uint8_t kInvIn = IP6T_INV_VIA_IN, kInvOut = IP6T_INV_VIA_OUT;
  static constexpr uint8_t kMatchProtocol = IP6T_F_PROTO;
};

template <typename Header>
Status FillHeader(Header& ip, const RuleSpecView& r, IpFamily family) {
  using T = HeaderTraits<Header>;
  auto address = [&](const auto& option, auto& addr, auto& mask, uint8_t inverted) -> Status {
    static_assert(sizeof(addr) == T::kAddressBytes && sizeof(mask) == T::kAddressBytes);
    auto c = ParseAddress(option.value, family);
    if (!c.ok()) return c.status();
    std::memcpy(&addr, c->address().bytes().data(), T::kAddressBytes);
    std::memcpy(&mask, Mask(c->prefix_length()).data(), T::kAddressBytes);
    if (option.negated) ip.invflags |= inverted;
    return Status::Ok();
  };
  if (r.source) {
    if (Status st = address(*r.source, ip.src, ip.smsk, T::kInvSource); !st.ok()) return st;
  }
  if (r.destination) {
    if (Status st = address(*r.destination, ip.dst, ip.dmsk, T::kInvDestination); !st.ok()) {
      return st;
    }
  }
  if (r.protocol) {
    auto p = ProtocolNumber(r.protocol->value);
    if (!p.ok()) return p.status();
    ip.proto = *p;
    ip.flags |= T::kMatchProtocol;
    if (r.protocol->negated) ip.invflags |= XT_INV_PROTO;
  }
  if (r.in_interface) {
    Interface(r.in_interface->value, ip.iniface, ip.iniface_mask);
    if (r.in_interface->negated) ip.invflags |= T::kInvIn;
  }
  if (r.out_interface) {
    Interface(r.out_interface->value, ip.outiface, ip.outiface_mask);
    if (r.out_interface->negated) ip.invflags |= T::kInvOut;
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

}  // namespace

Status EncodeIptEntryInto(IpFamily family, std::span<const std::string_view> args,
                          std::vector<unsigned char>& out) {
  return family == IpFamily::kIPv4 ? Encode<ipt_entry>(family, args, out)
                                   : Encode<ip6t_entry>(family, args, out);
}

Result<std::vector<unsigned char>> EncodeIptEntry(IpFamily family,
                                                  std::span<const std::string_view> args) {
  std::vector<unsigned char> out;
  if (Status st = EncodeIptEntryInto(family, args, out); !st.ok()) return st;
  return out;
}

Result<std::vector<unsigned char>> EncodeIptEntry(IpFamily family,
                                                  const std::vector<std::string>& args) {
  const std::vector<std::string_view> views(args.begin(), args.end());
  return EncodeIptEntry(family, std::span<const std::string_view>(views));
}

}  // namespace kpx
