#pragma once

#include <cstdint>
#include <string>

#include "proxier/nftables/nft_handle.h"

struct mnl_socket;
struct nlmsghdr;

namespace kpx {

// NftHandle over one long-lived NETLINK_NETFILTER socket (libmnl); messages come from libnftnl.
// Open() fails with a clear message when the socket cannot be opened (no CAP_NET_ADMIN, no
// nf_tables). Not thread-safe.
class NetlinkNftHandle : public NftHandle {
 public:
  NetlinkNftHandle() = default;
  ~NetlinkNftHandle() override;
  NetlinkNftHandle(const NetlinkNftHandle&) = delete;
  NetlinkNftHandle& operator=(const NetlinkNftHandle&) = delete;

  // `max_batch_bytes` sizes the send buffer so a transaction fits one sendmsg.
  Status Open(size_t max_batch_bytes);
  Status Commit(const NftBatch& batch) override;
  Result<NftTableDump> Dump(IpFamily family, const std::string& table) override;
  Result<NftTableDump> DumpStructure(IpFamily family, const std::string& table) override;
  Status DumpElements(IpFamily family, const std::string& table, const std::string& set,
                      const ElementVisitor& each) override;
  Result<uint32_t> Generation() override;
  Result<std::map<std::string, NftValue>> DumpSet(IpFamily family, const std::string& table,
                                                  const std::string& set) override;

 private:
  // Sends one request and feeds every reply message to `cb` until the dump is done.
  Status Request(const void* msg, size_t len, int (*cb)(const ::nlmsghdr*, void*), void* data,
                 const std::string& what);
  // Feeds every element of `set` to the DumpContext's sink.
  Status RequestElements(IpFamily family, const std::string& table, const std::string& set,
                         void* ctx);

  mnl_socket* nl_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
};

}  // namespace kpx
