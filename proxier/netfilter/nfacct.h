#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace kpx {

// Named packet counters in the kernel's nfnetlink_acct, which "-m nfacct --nfacct-name NAME"
// rules count into; kube-proxy exports two of them as metrics. Counters are per network
// namespace and outlive the process, as kube-proxy's do.
class Nfacct {
 public:
  virtual ~Nfacct() = default;
  // Creates the counter unless it exists (an existing one keeps its count).
  virtual Status Ensure(const std::string& name) = 0;
  // The packets counted so far.
  virtual Result<uint64_t> Packets(const std::string& name) = 0;
};

// kube-proxy's counter names and the metrics they feed.
inline constexpr char kCtStateInvalidDroppedCounter[] = "ct_state_invalid_dropped_pkts";
inline constexpr char kLocalhostNodePortsAcceptedCounter[] = "localhost_nps_accepted_pkts";

}  // namespace kpx
