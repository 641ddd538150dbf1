#include "proxier/ipvs/netlink_ipvs_handle.h"

#include <glog/logging.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

namespace kpx {
namespace {

// Large enough for any single datagram the kernel sends (dump skbs are at most 32 KiB).
constexpr size_t kReceiveBuffer = 64 * 1024;

}  // namespace

Result<std::unique_ptr<NetlinkIpvsHandle>> NetlinkIpvsHandle::Open(int timeout_ms) {
  nl_sock* sock = nl_socket_alloc();
  if (sock == nullptr) return Status::Error("netlink: cannot allocate socket");
  if (int err = genl_connect(sock); err < 0) {
    nl_socket_free(sock);
    return Status::Error(std::string("netlink: genl_connect: ") + nl_geterror(err));
  }
  const int family = genl_ctrl_resolve(sock, "IPVS");
  if (family < 0) {
    nl_socket_free(sock);
    return Status::Error(std::string("netlink: IPVS generic-netlink family not found (is the "
                                     "ip_vs module loaded?): ") +
                         nl_geterror(family));
  }
  nl_socket_set_buffer_size(sock, 1 << 20, 1 << 20);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(nl_socket_get_fd(sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return std::unique_ptr<NetlinkIpvsHandle>(
      new NetlinkIpvsHandle(sock, static_cast<uint16_t>(family)));
}

NetlinkIpvsHandle::NetlinkIpvsHandle(nl_sock* sock, uint16_t family_id)
    : sock_(sock), family_id_(family_id), buffer_(kReceiveBuffer) {}

NetlinkIpvsHandle::~NetlinkIpvsHandle() { nl_socket_free(sock_); }

KernelStatus NetlinkIpvsHandle::Send(const std::vector<uint8_t>& message, const char* what) {
  VLOG(9) << "ipvs netlink send " << what << " (" << message.size() << " bytes)";
  const int n = nl_sendto(sock_, const_cast<uint8_t*>(message.data()), message.size());
  if (n < 0) {
    return KernelStatus::Error(KernelErrorKind::kOther,
                               std::string("ipvs ") + what + ": send: " + nl_geterror(n));
  }
  return KernelStatus::Ok();
}

KernelStatus NetlinkIpvsHandle::Exchange(const std::vector<uint8_t>& message, const char* what,
                                         const std::function<void(const NetlinkMessage&)>& on_data,
                                         bool dump) {
  const uint32_t seq = seq_;
  if (auto s = Send(message, what); !s.ok()) return s;
  for (;;) {
    const ssize_t n = recv(nl_socket_get_fd(sock_), buffer_.data(), buffer_.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return KernelStatus::Error(KernelErrorKind::kOther, std::string("ipvs ") + what +
                                                              ": receive: " + std::strerror(errno));
    }
    auto msgs = SplitNetlinkMessages({buffer_.data(), static_cast<size_t>(n)});
    if (!msgs.ok()) {
      return KernelStatus::Error(KernelErrorKind::kOther,
                                 std::string("ipvs ") + what + ": " + msgs.status().message());
    }
    for (const NetlinkMessage& m : *msgs) {
      if (m.seq != seq) continue;  // an answer to an earlier, abandoned request
      if (dump && m.type == NLMSG_DONE) {
        int32_t err = 0;
        if (m.payload.size() >= sizeof(err)) std::memcpy(&err, m.payload.data(), sizeof(err));
        return KernelStatus::FromErrno(-err, std::string("ipvs ") + what);
      }
      if (m.type == NLMSG_ERROR) {
        auto err = ParseErrorMessage(m);
        if (!err.ok()) return KernelStatus::Error(KernelErrorKind::kOther, err.status().message());
        if (*err != 0 || !dump) return KernelStatus::FromErrno(*err, std::string("ipvs ") + what);
        continue;
      }
      if (on_data) on_data(m);
    }
  }
}

Result<std::vector<IpvsService>> NetlinkIpvsHandle::ListServices() {
  std::vector<IpvsService> out;
  auto s =
      Dump(BuildGetServicesRequest(NextHeader()), "list services", [&](const NetlinkMessage& m) {
        auto svc = ParseServiceMessage(m);
        if (svc.ok()) {
          out.push_back(*svc);
        } else {
          VLOG(4) << "ipvs: skipping service: " << svc.status().message();
        }
      });
  if (!s.ok()) return s.ToStatus();
  return out;
}

KernelStatus NetlinkIpvsHandle::AddService(const IpvsService& service) {
  return Transact(BuildNewServiceRequest(NextHeader(), service), "add service");
}

KernelStatus NetlinkIpvsHandle::UpdateService(const IpvsService& service) {
  return Transact(BuildSetServiceRequest(NextHeader(), service), "update service");
}

KernelStatus NetlinkIpvsHandle::DeleteService(const IpvsServiceKey& service) {
  return Transact(BuildDelServiceRequest(NextHeader(), service), "delete service");
}

Result<std::vector<IpvsDestination>> NetlinkIpvsHandle::ListDestinations(
    const IpvsServiceKey& service) {
  std::vector<IpvsDestination> out;
  Status parse_error;
  auto s = Dump(BuildGetDestsRequest(NextHeader(), service), "list destinations",
                [&](const NetlinkMessage& m) {
                  auto d = ParseDestinationMessage(m, service.family());
                  if (d.ok()) {
                    out.push_back(*d);
                  } else {
                    parse_error = d.status();
                  }
                });
  if (!s.ok()) return s.ToStatus();
  if (!parse_error.ok()) return parse_error;
  return out;
}

KernelStatus NetlinkIpvsHandle::AddDestination(const IpvsServiceKey& service,
                                               const IpvsDestination& dest) {
  return Transact(BuildNewDestRequest(NextHeader(), service, dest), "add destination");
}

KernelStatus NetlinkIpvsHandle::UpdateDestination(const IpvsServiceKey& service,
                                                  const IpvsDestination& dest) {
  return Transact(BuildSetDestRequest(NextHeader(), service, dest), "update destination");
}

KernelStatus NetlinkIpvsHandle::DeleteDestination(const IpvsServiceKey& service,
                                                  const IpvsDestinationKey& dest) {
  return Transact(BuildDelDestRequest(NextHeader(), service, dest), "delete destination");
}

KernelStatus NetlinkIpvsHandle::SetTimeouts(const IpvsTimeouts& timeouts) {
  return Transact(BuildSetConfigRequest(NextHeader(), timeouts), "set timeouts");
}

Result<IpvsTimeouts> NetlinkIpvsHandle::GetTimeouts() {
  Result<IpvsTimeouts> out = Status::Error("ipvs get timeouts: no reply");
  auto s = Transact(BuildGetConfigRequest(NextHeader()), "get timeouts",
                    [&](const NetlinkMessage& m) { out = ParseConfigMessage(m); });
  if (!s.ok()) return s.ToStatus();
  return out;
}

}  // namespace kpx
