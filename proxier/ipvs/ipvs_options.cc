#include "proxier/ipvs/ipvs_options.h"

#include <array>

namespace kpx {

bool IsKnownIpvsScheduler(std::string_view name) {
  static constexpr std::array<std::string_view, 11> kSchedulers = {
      "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh"};
  for (std::string_view s : kSchedulers) {
    if (s == name) return true;
  }
  return false;
}

Status ValidateIpvsOptions(const IpvsOptions& options) {
  if (!options.scheduler.empty() && !IsKnownIpvsScheduler(options.scheduler)) {
    return Status::Error("unknown --ipvs-scheduler \"" + options.scheduler +
                         "\" (want one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh)");
  }
  if (options.families.empty()) return Status::Error("ipvs: no IP family to program");
  if (options.masquerade_bit < 0 || options.masquerade_bit > 31) {
    return Status::Error("--masquerade-bit must be within 0..31");
  }
  if (options.node_port_min < 1 || options.node_port_max > 65535 ||
      options.node_port_min > options.node_port_max) {
    return Status::Error("ipvs: bad NodePort range");
  }
  if (options.dummy_device.empty() || options.dummy_device.size() > 15) {
    return Status::Error("ipvs: bad dummy device name \"" + options.dummy_device + "\"");
  }
  if (options.iptables_backend != "auto" && options.iptables_backend != "nft" &&
      options.iptables_backend != "legacy") {
    return Status::Error("ipvs: unknown iptables backend \"" + options.iptables_backend + "\"");
  }
  return Status::Ok();
}

}  // namespace kpx
