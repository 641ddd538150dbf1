#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proxier/netfilter/conntrack.h"

struct mnl_socket;

namespace kpx {

// Conntrack in process over ctnetlink (libmnl for the socket, libnetfilter_conntrack to build and
// parse the messages), with the semantics of `conntrack -D` for each ConntrackFilter field, so it
// replaces one process spawn per filter. A Delete dumps each family's table once for all its
// filters, asking the kernel to send only entries of the filters' protocol (and of their
// original destination port or IPv4 address, when they all name the same one: CTA_FILTER, which
// libnetfilter_conntrack 1.0.9 cannot build, so it is added here), matches each entry in user
// space, then deletes the matches in batches after the dump has ended. Entries that expire
// between dump and delete count as deleted.
//
// The socket is opened on first use, in the network namespace of the calling thread at that time,
// kept open, and dropped after any socket or protocol error so the next call starts clean.
// Not thread-safe: the sync thread only.
class NetlinkConntrack final : public Conntrack {
 public:
  NetlinkConntrack() = default;
  NetlinkConntrack(const NetlinkConntrack&) = delete;
  NetlinkConntrack& operator=(const NetlinkConntrack&) = delete;
  ~NetlinkConntrack() override;

  Status Delete(const std::vector<ConntrackFilter>& filters) override;

  // Entries that had already expired are not counted.
  uint64_t last_deleted() const override { return last_deleted_; }
  // How many entries the kernel sent in the last Delete's dumps (shows its filtering works).
  uint64_t last_dumped() const { return last_dumped_; }

 private:
  // One dump and the deletions for the filters of one family.
  Status DeleteInFamily(IpFamily family, const std::vector<const ConntrackFilter*>& filters);
  Status Open();
  void Close();

  mnl_socket* sock_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
  uint64_t last_deleted_ = 0;
  uint64_t last_dumped_ = 0;
};

}  // namespace kpx
