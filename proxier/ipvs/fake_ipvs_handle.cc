#include "proxier/ipvs/fake_ipvs_handle.h"

#include <cerrno>
#include <set>

namespace kpx {
namespace {

bool KnownScheduler(const std::string& name) {
  static const std::set<std::string> kKnown = {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh",
                                               "sh", "sed", "nq", "mh",  "fo",   "ovf",   "twos"};
  return kKnown.count(name) > 0;
}

KernelStatus ValidateService(const IpvsService& s) {
  // The kernel answers ENOENT when the scheduler module cannot be found.
  if (!KnownScheduler(s.scheduler)) return KernelStatus::FromErrno(ENOENT, "scheduler");
  if (s.key.family() == IpFamily::kIPv6 && (s.netmask < 1 || s.netmask > 128)) {
    return KernelStatus::FromErrno(EINVAL, "netmask");
  }
  return KernelStatus::Ok();
}

std::string DestText(const IpvsServiceKey& s, const IpvsDestination& d) {
  return s.ToString() + " " + d.key.ToString() + " weight=" + std::to_string(d.weight);
}

}  // namespace

bool FakeIpvsHandle::ConsumeFailure() {
  if (fail_mutations_ <= 0) return false;
  --fail_mutations_;
  return true;
}

Result<std::vector<IpvsService>> FakeIpvsHandle::ListServices() {
  ++list_calls_;
  std::vector<IpvsService> out;
  for (const auto& [key, e] : table_) out.push_back(e.service);
  return out;
}

KernelStatus FakeIpvsHandle::AddService(const IpvsService& service) {
  if (ConsumeFailure()) return KernelStatus::FromErrno(EIO, "injected failure");
  if (table_.count(service.key)) return KernelStatus::FromErrno(EEXIST, "add service");
  if (auto s = ValidateService(service); !s.ok()) return s;
  Entry e;
  e.service = service;
  e.service.flags |= kIpvsFlagHashed;
  table_[service.key] = e;
  log_.push_back("add-service " + service.key.ToString() + " " + service.scheduler);
  return KernelStatus::Ok();
}

KernelStatus FakeIpvsHandle::UpdateService(const IpvsService& service) {
  if (ConsumeFailure()) return KernelStatus::FromErrno(EIO, "injected failure");
  auto it = table_.find(service.key);
  if (it == table_.end()) return KernelStatus::FromErrno(ESRCH, "update service");
  if (auto s = ValidateService(service); !s.ok()) return s;
  it->second.service = service;
  it->second.service.flags |= kIpvsFlagHashed;
  log_.push_back("set-service " + service.key.ToString() + " " + service.scheduler);
  return KernelStatus::Ok();
}

KernelStatus FakeIpvsHandle::DeleteService(const IpvsServiceKey& service) {
  if (ConsumeFailure()) return KernelStatus::FromErrno(EIO, "injected failure");
  if (table_.erase(service) == 0) return KernelStatus::FromErrno(ESRCH, "delete service");
  log_.push_back("del-service " + service.ToString());
  return KernelStatus::Ok();
}

Result<std::vector<IpvsDestination>> FakeIpvsHandle::ListDestinations(
    const IpvsServiceKey& service) {
  ++list_calls_;
  std::vector<IpvsDestination> out;
  auto it = table_.find(service);
  if (it == table_.end()) return out;
  for (const auto& [key, d] : it->second.dests) out.push_back(d);
  return out;
}

KernelStatus FakeIpvsHandle::AddDestination(const IpvsServiceKey& service,
                                            const IpvsDestination& dest) {
  if (ConsumeFailure()) return KernelStatus::FromErrno(EIO, "injected failure");
  auto it = table_.find(service);
  if (it == table_.end()) return KernelStatus::FromErrno(ESRCH, "add dest: no service");
  if (it->second.dests.count(dest.key)) return KernelStatus::FromErrno(EEXIST, "add dest");
  IpvsDestination d = dest;
  d.active_connections = d.inactive_connections = d.persistent_connections = 0;
  it->second.dests[dest.key] = d;
  log_.push_back("add-dest " + DestText(service, dest));
  return KernelStatus::Ok();
}

KernelStatus FakeIpvsHandle::UpdateDestination(const IpvsServiceKey& service,
                                               const IpvsDestination& dest) {
  if (ConsumeFailure()) return KernelStatus::FromErrno(EIO, "injected failure");
  auto it = table_.find(service);
  if (it == table_.end()) return KernelStatus::FromErrno(ESRCH, "update dest: no service");
  auto dit = it->second.dests.find(dest.key);
  if (dit == it->second.dests.end()) return KernelStatus::FromErrno(ENOENT, "update dest");
  dit->second.weight = dest.weight;
  dit->second.forward_method = dest.forward_method;
  dit->second.upper_threshold = dest.upper_threshold;
  dit->second.lower_threshold = dest.lower_threshold;
  log_.push_back("set-dest " + DestText(service, dest));
  return KernelStatus::Ok();
}

KernelStatus FakeIpvsHandle::DeleteDestination(const IpvsServiceKey& service,
                                               const IpvsDestinationKey& dest) {
  if (ConsumeFailure()) return KernelStatus::FromErrno(EIO, "injected failure");
  auto it = table_.find(service);
  if (it == table_.end()) return KernelStatus::FromErrno(ESRCH, "delete dest: no service");
  // Callers may pass a reference into this table (a destination they just looked up): render it
  // before erasing it, as the kernel works on its own copy of the request.
  std::string entry = "del-dest " + service.ToString() + " " + dest.ToString();
  if (it->second.dests.erase(dest) == 0) return KernelStatus::FromErrno(ENOENT, "delete dest");
  log_.push_back(std::move(entry));
  return KernelStatus::Ok();
}

KernelStatus FakeIpvsHandle::SetTimeouts(const IpvsTimeouts& timeouts) {
  if (ConsumeFailure()) return KernelStatus::FromErrno(EIO, "injected failure");
  if (timeouts.tcp) timeouts_.tcp = timeouts.tcp;
  if (timeouts.tcp_fin) timeouts_.tcp_fin = timeouts.tcp_fin;
  if (timeouts.udp) timeouts_.udp = timeouts.udp;
  log_.push_back("set-timeouts");
  return KernelStatus::Ok();
}

Result<IpvsTimeouts> FakeIpvsHandle::GetTimeouts() { return timeouts_; }

const IpvsService* FakeIpvsHandle::FindService(const IpvsServiceKey& key) const {
  auto it = table_.find(key);
  return it == table_.end() ? nullptr : &it->second.service;
}

const IpvsDestination* FakeIpvsHandle::FindDestination(const IpvsServiceKey& svc,
                                                       const IpvsDestinationKey& dest) const {
  auto it = table_.find(svc);
  if (it == table_.end()) return nullptr;
  auto dit = it->second.dests.find(dest);
  return dit == it->second.dests.end() ? nullptr : &dit->second;
}

void FakeIpvsHandle::SetConnections(const IpvsServiceKey& svc, const IpvsDestinationKey& dest,
                                    uint32_t active, uint32_t inactive) {
  auto it = table_.find(svc);
  if (it == table_.end()) return;
  auto dit = it->second.dests.find(dest);
  if (dit == it->second.dests.end()) return;
  dit->second.active_connections = active;
  dit->second.inactive_connections = inactive;
}

}  // namespace kpx
