#include "proxier/ipvs/netlink_link_handle.h"

#include <linux/if.h>
#include <linux/if_addr.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <map>

namespace kpx {
namespace {

// libnl reports its own NLE_* codes; map the ones reconcilers care about.
KernelStatus FromNle(int err, const std::string& context) {
  if (err >= 0) return KernelStatus::Ok();
  const int e = -err;
  KernelErrorKind kind = KernelErrorKind::kOther;
  if (e == NLE_EXIST) kind = KernelErrorKind::kExists;
  if (e == NLE_OBJ_NOTFOUND || e == NLE_NODEV || e == NLE_NOADDR) {
    kind = KernelErrorKind::kNotFound;
  }
  return KernelStatus::Error(kind, context + ": " + nl_geterror(err));
}

}  // namespace

Result<std::unique_ptr<NetlinkLinkHandle>> NetlinkLinkHandle::Open() {
  nl_sock* sock = nl_socket_alloc();
  if (sock == nullptr) return Status::Error("rtnetlink: cannot allocate socket");
  if (int err = nl_connect(sock, NETLINK_ROUTE); err < 0) {
    nl_socket_free(sock);
    return Status::Error(std::string("rtnetlink: connect: ") + nl_geterror(err));
  }
  return std::unique_ptr<NetlinkLinkHandle>(new NetlinkLinkHandle(sock));
}

NetlinkLinkHandle::~NetlinkLinkHandle() { nl_socket_free(sock_); }

Result<int> NetlinkLinkHandle::IndexOf(const std::string& name) {
  rtnl_link* link = nullptr;
  const int err = rtnl_link_get_kernel(sock_, 0, name.c_str(), &link);
  if (err < 0) {
    if (-err == NLE_OBJ_NOTFOUND || -err == NLE_NODEV) return 0;
    return Status::Error("rtnetlink: get link " + name + ": " + nl_geterror(err));
  }
  const int index = rtnl_link_get_ifindex(link);
  rtnl_link_put(link);
  return index;
}

KernelStatus NetlinkLinkHandle::EnsureDummy(const std::string& name, bool up) {
  rtnl_link* link = nullptr;
  int err = rtnl_link_get_kernel(sock_, 0, name.c_str(), &link);
  if (err < 0 && -err != NLE_OBJ_NOTFOUND && -err != NLE_NODEV) {
    return FromNle(err, "get link " + name);
  }
  if (link == nullptr) {
    rtnl_link* create = rtnl_link_alloc();
    rtnl_link_set_name(create, name.c_str());
    if (int e = rtnl_link_set_type(create, "dummy"); e < 0) {
      rtnl_link_put(create);
      return FromNle(e, "dummy link type");
    }
    if (up) rtnl_link_set_flags(create, IFF_UP);
    err = rtnl_link_add(sock_, create, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_link_put(create);
    // Someone else creating it first is fine.
    if (err < 0 && -err != NLE_EXIST) return FromNle(err, "create dummy " + name);
    return KernelStatus::Ok();
  }
  KernelStatus result = KernelStatus::Ok();
  if (up && (rtnl_link_get_flags(link) & IFF_UP) == 0) {
    rtnl_link* change = rtnl_link_alloc();
    rtnl_link_set_flags(change, IFF_UP);
    result = FromNle(rtnl_link_change(sock_, link, change, 0), "set " + name + " up");
    rtnl_link_put(change);
  }
  rtnl_link_put(link);
  return result;
}

Result<bool> NetlinkLinkHandle::LinkExists(const std::string& name) {
  auto index = IndexOf(name);
  if (!index.ok()) return index.status();
  return *index > 0;
}

KernelStatus NetlinkLinkHandle::DeleteLink(const std::string& name) {
  rtnl_link* link = rtnl_link_alloc();
  rtnl_link_set_name(link, name.c_str());
  const int err = rtnl_link_delete(sock_, link);
  rtnl_link_put(link);
  return FromNle(err, "delete link " + name);
}

Result<std::vector<InterfaceAddress>> NetlinkLinkHandle::ListAllAddresses() {
  nl_cache* links = nullptr;
  if (int err = rtnl_link_alloc_cache(sock_, AF_UNSPEC, &links); err < 0) {
    return Status::Error(std::string("rtnetlink: list links: ") + nl_geterror(err));
  }
  nl_cache* addrs = nullptr;
  if (int err = rtnl_addr_alloc_cache(sock_, &addrs); err < 0) {
    nl_cache_free(links);
    return Status::Error(std::string("rtnetlink: list addresses: ") + nl_geterror(err));
  }
  std::vector<InterfaceAddress> out;
  for (nl_object* o = nl_cache_get_first(addrs); o != nullptr; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    nl_addr* local = rtnl_addr_get_local(a);
    if (local == nullptr) continue;
    const int af = nl_addr_get_family(local);
    const size_t len = nl_addr_get_len(local);
    if (!((af == AF_INET && len == 4) || (af == AF_INET6 && len == 16))) continue;
    std::array<uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), nl_addr_get_binary_addr(local), len);
    char name[IFNAMSIZ + 1] = {0};
    rtnl_link_i2name(links, rtnl_addr_get_ifindex(a), name, sizeof(name));
    out.push_back(
        {name, IpAddress::FromBytes(af == AF_INET ? IpFamily::kIPv4 : IpFamily::kIPv6, bytes)});
  }
  nl_cache_free(addrs);
  nl_cache_free(links);
  return out;
}

Result<std::vector<IpAddress>> NetlinkLinkHandle::ListAddresses(const std::string& name) {
  auto index = IndexOf(name);
  if (!index.ok()) return index.status();
  if (*index == 0) return Status::Error("link " + name + " not found");
  auto all = ListAllAddresses();
  if (!all.ok()) return all.status();
  std::vector<IpAddress> out;
  for (const auto& a : *all) {
    if (a.interface == name) out.push_back(a.address);
  }
  return out;
}

KernelStatus NetlinkLinkHandle::ChangeAddress(const std::string& name, const IpAddress& address,
                                              bool add) {
  auto index = IndexOf(name);
  if (!index.ok()) return KernelStatus::Error(KernelErrorKind::kOther, index.status().message());
  if (*index == 0) return KernelStatus::Error(KernelErrorKind::kNotFound, "no link " + name);
  const bool v4 = address.family() == IpFamily::kIPv4;
  nl_addr* local = nl_addr_build(v4 ? AF_INET : AF_INET6, address.bytes().data(), v4 ? 4 : 16);
  nl_addr_set_prefixlen(local, v4 ? 32 : 128);
  rtnl_addr* a = rtnl_addr_alloc();
  rtnl_addr_set_ifindex(a, *index);
  rtnl_addr_set_local(a, local);
  if (!v4) rtnl_addr_set_flags(a, IFA_F_NODAD);
  const int err = add ? rtnl_addr_add(sock_, a, 0) : rtnl_addr_delete(sock_, a, 0);
  rtnl_addr_put(a);
  nl_addr_put(local);
  return FromNle(err, std::string(add ? "add " : "delete ") + address.ToString() + " on " + name);
}

KernelStatus NetlinkLinkHandle::AddAddress(const std::string& name, const IpAddress& address) {
  return ChangeAddress(name, address, true);
}

KernelStatus NetlinkLinkHandle::DeleteAddress(const std::string& name, const IpAddress& address) {
  return ChangeAddress(name, address, false);
}

}  // namespace kpx
