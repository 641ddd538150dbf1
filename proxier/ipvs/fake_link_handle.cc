#include "proxier/ipvs/fake_link_handle.h"

#include <cerrno>

namespace kpx {

KernelStatus FakeLinkHandle::EnsureDummy(const std::string& name, bool up) {
  auto it = links_.find(name);
  if (it == links_.end()) {
    Link l;
    l.dummy = true;
    l.up = up;
    links_[name] = l;
    ++mutations_;
  } else if (up && !it->second.up) {
    it->second.up = true;
    ++mutations_;
  }
  return KernelStatus::Ok();
}

Result<bool> FakeLinkHandle::LinkExists(const std::string& name) { return links_.count(name) > 0; }

KernelStatus FakeLinkHandle::DeleteLink(const std::string& name) {
  if (links_.erase(name) == 0) return KernelStatus::FromErrno(ENOENT, "delete link " + name);
  ++mutations_;
  return KernelStatus::Ok();
}

Result<std::vector<IpAddress>> FakeLinkHandle::ListAddresses(const std::string& name) {
  ++address_dumps_;
  auto it = links_.find(name);
  if (it == links_.end()) return Status::Error("link " + name + " not found");
  return std::vector<IpAddress>(it->second.addresses.begin(), it->second.addresses.end());
}

KernelStatus FakeLinkHandle::AddAddress(const std::string& name, const IpAddress& address) {
  auto it = links_.find(name);
  if (it == links_.end()) return KernelStatus::FromErrno(ENOENT, "link " + name);
  if (!it->second.addresses.insert(address).second) {
    return KernelStatus::FromErrno(EEXIST, "address " + address.ToString());
  }
  ++mutations_;
  return KernelStatus::Ok();
}

KernelStatus FakeLinkHandle::DeleteAddress(const std::string& name, const IpAddress& address) {
  auto it = links_.find(name);
  if (it == links_.end()) return KernelStatus::FromErrno(ENOENT, "link " + name);
  if (it->second.addresses.erase(address) == 0) {
    return KernelStatus::FromErrno(ENOENT, "address " + address.ToString());
  }
  ++mutations_;
  return KernelStatus::Ok();
}

Result<std::vector<InterfaceAddress>> FakeLinkHandle::ListAllAddresses() {
  ++address_dumps_;
  std::vector<InterfaceAddress> out;
  for (const auto& [name, link] : links_) {
    for (const IpAddress& a : link.addresses) out.push_back({name, a});
  }
  return out;
}

void FakeLinkHandle::AddInterface(const std::string& name,
                                  const std::vector<IpAddress>& addresses) {
  Link& l = links_[name];
  l.up = true;
  l.addresses.insert(addresses.begin(), addresses.end());
}

const FakeLinkHandle::Link* FakeLinkHandle::Find(const std::string& name) const {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : &it->second;
}

}  // namespace kpx
