#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip_address.h"
#include "base/protocol.h"
#include "base/status.h"

namespace kpx {

// Which conntrack entries to delete; unset fields match anything.
struct ConntrackFilter {
  IpFamily family = IpFamily::kIPv4;
  Protocol protocol = Protocol::kUDP;
  std::optional<IpAddress> orig_dst;  // the address the client sent to (service IP)
  std::optional<int> orig_dst_port;   // the port the client sent to (NodePort)
  std::optional<IpAddress> dst_nat;   // the endpoint the entry was DNATed to
  std::string ToString() const;
  bool operator==(const ConntrackFilter&) const = default;
};

// Deletes connection-tracking entries. UDP has no connection teardown, so without this a client
// keeps sending to an endpoint that is gone (or to the REJECT path of a service that just got
// endpoints) until its entry times out. Finding nothing to delete is success.
class Conntrack {
 public:
  virtual ~Conntrack() = default;
  // Deletes every entry that matches at least one of `filters`. All of a sync's filters come in
  // one call because every dump makes the kernel walk every bucket of its conntrack hash (~10 ms
  // of kernel CPU at 262 144 buckets, whatever the entries and any dump filter), so an adapter
  // dumps once per family, not once per filter.
  virtual Status Delete(const std::vector<ConntrackFilter>& filters) = 0;
  // How many entries the last Delete removed, also when it failed part-way (what
  // kpx_conntrack_entries_deleted_total counts: entries, not filters).
  virtual uint64_t last_deleted() const = 0;
};

}  // namespace kpx
