#include "proxier/userspace/frontend.h"

namespace kpx {

Frontend::Frontend(const FrontendSpec& spec, int connection_limit,
                   std::chrono::milliseconds limit_log_interval)
    : key_(spec.key), protocol_(spec.protocol), limiter_(connection_limit, limit_log_interval) {
  Update(spec);
}

void Frontend::Update(const FrontendSpec& spec) {
  for (IpFamily f : kIpFamilies) {
    pickers_[static_cast<int>(f)].Update(spec.BackendsFor(f), spec.affinity_client_ip,
                                         spec.affinity_timeout);
  }
}

}  // namespace kpx
