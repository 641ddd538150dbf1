#pragma once

#include "proxier/netfilter/nfacct.h"

namespace kpx {

// nfnetlink_acct over a netlink socket (libmnl), messages built and parsed by
// libnetfilter_acct. One socket per call: counters are read at scrape time, rarely, from any
// thread, so nothing is shared.
class NetlinkNfacct final : public Nfacct {
 public:
  Status Ensure(const std::string& name) override;
  Result<uint64_t> Packets(const std::string& name) override;
};

}  // namespace kpx
