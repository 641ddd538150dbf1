#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "proxier/ipvs/link_handle.h"

namespace kpx {

// In-memory links and addresses with the kernel's answers: EEXIST for a duplicate address or
// link, not-found for a missing device or address.
class FakeLinkHandle : public LinkHandle {
 public:
  struct Link {
    bool dummy = false;
    bool up = false;
    std::set<IpAddress> addresses;
  };

  KernelStatus EnsureDummy(const std::string& name, bool up) override;
  Result<bool> LinkExists(const std::string& name) override;
  KernelStatus DeleteLink(const std::string& name) override;
  Result<std::vector<IpAddress>> ListAddresses(const std::string& name) override;
  KernelStatus AddAddress(const std::string& name, const IpAddress& address) override;
  KernelStatus DeleteAddress(const std::string& name, const IpAddress& address) override;
  Result<std::vector<InterfaceAddress>> ListAllAddresses() override;

  // A host interface such as eth0 with its addresses.
  void AddInterface(const std::string& name, const std::vector<IpAddress>& addresses);
  const Link* Find(const std::string& name) const;
  int mutations() const { return mutations_; }
  // ListAddresses and ListAllAddresses calls (each a full address dump in the kernel).
  int address_dumps() const { return address_dumps_; }

 private:
  std::map<std::string, Link> links_;
  int mutations_ = 0;
  int address_dumps_ = 0;
};

}  // namespace kpx
