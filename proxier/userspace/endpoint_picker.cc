#include "proxier/userspace/endpoint_picker.h"

#include <algorithm>

namespace kpx {

namespace {
// Expired affinity entries are swept every this many picks, so a churn of clients cannot grow
// the table without bound while a pick stays O(log clients).
constexpr uint32_t kExpiryEvery = 1024;
}  // namespace

void EndpointPicker::Update(std::vector<Backend> backends, bool affinity_client_ip,
                            std::chrono::seconds affinity_timeout) {
  std::lock_guard lock(mu_);
  backends_ = std::move(backends);
  if (!backends_.empty()) next_ %= backends_.size();
  affinity_ = affinity_client_ip;
  affinity_timeout_ = affinity_timeout;
  if (!affinity_) {
    sticky_.reset();
    return;
  }
  if (!sticky_) return;
  for (auto it = sticky_->begin(); it != sticky_->end();) {
    const bool present =
        std::find(backends_.begin(), backends_.end(), it->second.backend) != backends_.end();
    it = present ? std::next(it) : sticky_->erase(it);
  }
}

Backend EndpointPicker::NextRoundRobin() {
  const Backend b = backends_[next_ % backends_.size()];
  next_ = (next_ + 1) % backends_.size();
  return b;
}

void EndpointPicker::Remember(const IpAddress& client, const Backend& backend, TimePoint now) {
  if (!affinity_) return;
  if (!sticky_) sticky_ = std::make_unique<std::map<IpAddress, Sticky>>();
  (*sticky_)[client] = Sticky{backend, now};
}

void EndpointPicker::ExpireLocked(TimePoint now) {
  if (!sticky_) return;
  for (auto it = sticky_->begin(); it != sticky_->end();) {
    it = now - it->second.last_used >= affinity_timeout_ ? sticky_->erase(it) : std::next(it);
  }
}

std::optional<Backend> EndpointPicker::Pick(const IpAddress& client, TimePoint now) {
  std::lock_guard lock(mu_);
  if (backends_.empty()) return std::nullopt;
  if (affinity_) {
    if (++picks_since_expiry_ >= kExpiryEvery) {
      picks_since_expiry_ = 0;
      ExpireLocked(now);
    }
    if (sticky_) {
      auto it = sticky_->find(client);
      if (it != sticky_->end() && now - it->second.last_used < affinity_timeout_) {
        it->second.last_used = now;
        return it->second.backend;
      }
    }
  }
  const Backend b = NextRoundRobin();
  Remember(client, b, now);
  return b;
}

std::optional<Backend> EndpointPicker::PickNext(const IpAddress& client,
                                                const std::vector<Backend>& tried, TimePoint now) {
  std::lock_guard lock(mu_);
  // Scans from the rotation's position without moving it: a dead endpoint then costs each
  // connection that lands on it one retry, and does not shift the others' turns.
  for (size_t i = 0; i < backends_.size(); ++i) {
    const Backend b = backends_[(next_ + i) % backends_.size()];
    if (std::find(tried.begin(), tried.end(), b) != tried.end()) continue;
    Remember(client, b, now);
    return b;
  }
  if (affinity_ && sticky_) sticky_->erase(client);
  return std::nullopt;
}

size_t EndpointPicker::size() const {
  std::lock_guard lock(mu_);
  return backends_.size();
}

size_t EndpointPicker::affinity_entries() const {
  std::lock_guard lock(mu_);
  return sticky_ ? sticky_->size() : 0;
}

}  // namespace kpx
