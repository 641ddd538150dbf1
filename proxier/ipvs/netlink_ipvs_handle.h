#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "proxier/ipvs/ipvs_handle.h"
#include "proxier/ipvs/ipvs_messages.h"

struct nl_sock;

namespace kpx {

// IpvsHandle over the kernel's "IPVS" generic-netlink family. One long-lived socket; the family
// id is resolved once in Open(). Requests are built by the pure functions of ipvs_messages.h and
// sent as they are; every mutation asks for an ACK and the ACK is read before anything else is
// sent, so a following dump never sees a stale answer (stale messages with an old sequence number
// are dropped anyway). Receives time out after `timeout_ms`, so a wedged kernel cannot hang the
// sync loop. Not thread-safe.
class NetlinkIpvsHandle : public IpvsHandle {
 public:
  // Fails with a clear message when the IPVS family is unknown (ip_vs module not loaded).
  static Result<std::unique_ptr<NetlinkIpvsHandle>> Open(int timeout_ms = 10000);
  ~NetlinkIpvsHandle() override;
  NetlinkIpvsHandle(const NetlinkIpvsHandle&) = delete;
  NetlinkIpvsHandle& operator=(const NetlinkIpvsHandle&) = delete;

  Result<std::vector<IpvsService>> ListServices() override;
  KernelStatus AddService(const IpvsService& service) override;
  KernelStatus UpdateService(const IpvsService& service) override;
  KernelStatus DeleteService(const IpvsServiceKey& service) override;
  Result<std::vector<IpvsDestination>> ListDestinations(const IpvsServiceKey& service) override;
  KernelStatus AddDestination(const IpvsServiceKey& service, const IpvsDestination& dest) override;
  KernelStatus UpdateDestination(const IpvsServiceKey& service,
                                 const IpvsDestination& dest) override;
  KernelStatus DeleteDestination(const IpvsServiceKey& service,
                                 const IpvsDestinationKey& dest) override;
  KernelStatus SetTimeouts(const IpvsTimeouts& timeouts) override;
  Result<IpvsTimeouts> GetTimeouts() override;

  uint16_t family_id() const { return family_id_; }

 private:
  NetlinkIpvsHandle(nl_sock* sock, uint16_t family_id);

  NetlinkRequestHeader NextHeader() { return {family_id_, ++seq_, 0}; }
  KernelStatus Send(const std::vector<uint8_t>& message, const char* what);
  // Sends a request with NLM_F_ACK and waits for its answer; data messages before the ACK (the
  // GET_CONFIG reply) go to `on_data`.
  KernelStatus Transact(const std::vector<uint8_t>& message, const char* what,
                        const std::function<void(const NetlinkMessage&)>& on_data = nullptr) {
    return Exchange(message, what, on_data, /*dump=*/false);
  }
  // Sends a dump request and hands every part to `on_part` until NLMSG_DONE.
  KernelStatus Dump(const std::vector<uint8_t>& message, const char* what,
                    const std::function<void(const NetlinkMessage&)>& on_part) {
    return Exchange(message, what, on_part, /*dump=*/true);
  }
  // Both of the above: reads answers to this request until an error, the ACK (requests) or
  // NLMSG_DONE (dumps, where a zero ACK may arrive before the end and is not the end).
  KernelStatus Exchange(const std::vector<uint8_t>& message, const char* what,
                        const std::function<void(const NetlinkMessage&)>& on_data, bool dump);

  nl_sock* sock_;
  uint16_t family_id_;
  uint32_t seq_ = 0;
  std::vector<uint8_t> buffer_;
};

}  // namespace kpx
