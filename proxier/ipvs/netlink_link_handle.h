#pragma once

#include <memory>
#include <string>
#include <vector>

#include "proxier/ipvs/link_handle.h"

struct nl_sock;

namespace kpx {

// LinkHandle over rtnetlink with libnl-route-3. One long-lived NETLINK_ROUTE socket. IPv6
// addresses are added with IFA_F_NODAD: the dummy device is down, so duplicate address detection
// would never finish and the address would stay tentative.
class NetlinkLinkHandle : public LinkHandle {
 public:
  static Result<std::unique_ptr<NetlinkLinkHandle>> Open();
  ~NetlinkLinkHandle() override;
  NetlinkLinkHandle(const NetlinkLinkHandle&) = delete;
  NetlinkLinkHandle& operator=(const NetlinkLinkHandle&) = delete;

  KernelStatus EnsureDummy(const std::string& name, bool up) override;
  Result<bool> LinkExists(const std::string& name) override;
  KernelStatus DeleteLink(const std::string& name) override;
  Result<std::vector<IpAddress>> ListAddresses(const std::string& name) override;
  KernelStatus AddAddress(const std::string& name, const IpAddress& address) override;
  KernelStatus DeleteAddress(const std::string& name, const IpAddress& address) override;
  Result<std::vector<InterfaceAddress>> ListAllAddresses() override;

 private:
  explicit NetlinkLinkHandle(nl_sock* sock) : sock_(sock) {}
  // The interface index, 0 when the device does not exist, or an error.
  Result<int> IndexOf(const std::string& name);
  KernelStatus ChangeAddress(const std::string& name, const IpAddress& address, bool add);

  nl_sock* sock_;
};

}  // namespace kpx
