#include "proxier/ipvs/graceful_termination.h"

#include <glog/logging.h>

#include <set>

namespace kpx {

GracefulTermination::GracefulTermination(IpvsHandle* handle, std::chrono::seconds bound,
                                         Clock clock)
    : handle_(handle), bound_(bound), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

bool GracefulTermination::Drained(Protocol protocol, const IpvsDestination& dest) {
  if (dest.active_connections != 0) return false;
  return protocol != Protocol::kUDP || dest.inactive_connections == 0;
}

KernelStatus GracefulTermination::Retire(const IpvsService& service, const IpvsDestination& dest) {
  const Key key{service.key, dest.key};
  if (draining_.count(key)) return KernelStatus::Ok();
  if (Drained(service.key.protocol, dest)) {
    KernelStatus s = handle_->DeleteDestination(service.key, dest.key);
    if (s.ok() || s.not_found()) {
      VLOG(4) << "ipvs: deleted idle destination " << dest.key.ToString() << " of "
              << service.key.ToString();
      ++deleted_drained_;
      return KernelStatus::Ok();
    }
    return s;
  }
  if (dest.weight != 0) {
    IpvsDestination quiet = dest;
    quiet.weight = 0;
    KernelStatus s = handle_->UpdateDestination(service.key, quiet);
    if (s.not_found()) return KernelStatus::Ok();  // already gone: nothing to drain
    if (!s.ok()) return s;
  }
  VLOG(4) << "ipvs: draining " << dest.key.ToString() << " of " << service.key.ToString()
          << " (active " << dest.active_connections << ", inactive " << dest.inactive_connections
          << ")";
  draining_[key] = clock_();
  return KernelStatus::Ok();
}

bool GracefulTermination::Cancel(const IpvsServiceKey& service, const IpvsDestinationKey& dest) {
  return draining_.erase({service, dest}) > 0;
}

void GracefulTermination::ForgetService(const IpvsServiceKey& service) {
  for (auto it = draining_.begin(); it != draining_.end();) {
    it = it->first.first == service ? draining_.erase(it) : std::next(it);
  }
}

bool GracefulTermination::IsDraining(const IpvsServiceKey& service,
                                     const IpvsDestinationKey& dest) const {
  return draining_.count({service, dest}) > 0;
}

std::set<IpvsServiceKey> GracefulTermination::DrainingServices() const {
  std::set<IpvsServiceKey> services;
  for (const auto& [key, since] : draining_) services.insert(services.end(), key.first);
  return services;
}

Result<int> GracefulTermination::Process() {
  const std::set<IpvsServiceKey> services = DrainingServices();
  const auto now = clock_();
  int deleted = 0;
  Status first_error;
  for (const IpvsServiceKey& svc : services) {
    auto dests = handle_->ListDestinations(svc);
    if (!dests.ok()) {
      if (first_error.ok()) first_error = dests.status();
      continue;
    }
    std::map<IpvsDestinationKey, IpvsDestination> current;
    for (const auto& d : *dests) current[d.key] = d;
    for (auto it = draining_.lower_bound({svc, IpvsDestinationKey{}});
         it != draining_.end() && it->first.first == svc;) {
      auto cur = current.find(it->first.second);
      if (cur == current.end()) {  // deleted by someone else, or the service is gone
        it = draining_.erase(it);
        continue;
      }
      const bool drained = Drained(svc.protocol, cur->second);
      const bool expired = now - it->second >= bound_;
      if (!drained && !expired) {
        ++it;
        continue;
      }
      KernelStatus s = handle_->DeleteDestination(svc, cur->first);
      if (!s.ok() && !s.not_found()) {
        if (first_error.ok()) first_error = s.ToStatus();
        ++it;
        continue;
      }
      LOG(INFO) << "ipvs: removed " << (drained ? "drained" : "still busy") << " destination "
                << cur->first.ToString() << " of " << svc.ToString();
      ++(drained ? deleted_drained_ : deleted_at_bound_);
      ++deleted;
      it = draining_.erase(it);
    }
  }
  if (!first_error.ok()) return first_error;
  return deleted;
}

}  // namespace kpx
