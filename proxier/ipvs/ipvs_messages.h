#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "proxier/ipvs/ipvs_destination.h"
#include "proxier/ipvs/ipvs_service.h"
#include "proxier/ipvs/ipvs_timeouts.h"

namespace kpx {

// Pure builders and parsers for the IPVS generic-netlink family (include/uapi/linux/ip_vs.h).
// Builders return whole netlink messages (nlmsghdr + genlmsghdr + attributes) so tests can compare
// them byte for byte and the adapter only has to send them.
//
// Encoding, as the kernel's policy wants it: AF and PROTOCOL are u16, PORT is big-endian u16,
// ADDR is the 16-byte nf_inet_addr (IPv4 in the first 4 bytes), SCHED_NAME is NUL-terminated,
// FLAGS is struct ip_vs_flags {flags, mask}, TIMEOUT and NETMASK are u32; destination FWD_METHOD,
// WEIGHT and thresholds are u32, ADDR_FAMILY u16. Nested attributes carry no NLA_F_NESTED bit,
// like ipvsadm's, since IPVS parses them with the lenient (deprecated) parser.

// The nlmsghdr fields a request needs besides its body.
struct NetlinkRequestHeader {
  uint16_t family_id = 0;  // resolved "IPVS" generic-netlink family
  uint32_t seq = 0;
  uint32_t port_id = 0;  // 0: let the kernel fill it in
};

// Requests that change state carry NLM_F_ACK so every one of them gets exactly one answer.
std::vector<uint8_t> BuildNewServiceRequest(const NetlinkRequestHeader& h, const IpvsService& svc);
std::vector<uint8_t> BuildSetServiceRequest(const NetlinkRequestHeader& h, const IpvsService& svc);
std::vector<uint8_t> BuildDelServiceRequest(const NetlinkRequestHeader& h,
                                            const IpvsServiceKey& svc);
// NLM_F_DUMP over every virtual server.
std::vector<uint8_t> BuildGetServicesRequest(const NetlinkRequestHeader& h);

std::vector<uint8_t> BuildNewDestRequest(const NetlinkRequestHeader& h, const IpvsServiceKey& svc,
                                         const IpvsDestination& dest);
std::vector<uint8_t> BuildSetDestRequest(const NetlinkRequestHeader& h, const IpvsServiceKey& svc,
                                         const IpvsDestination& dest);
std::vector<uint8_t> BuildDelDestRequest(const NetlinkRequestHeader& h, const IpvsServiceKey& svc,
                                         const IpvsDestinationKey& dest);
// NLM_F_DUMP over the real servers of one virtual server.
std::vector<uint8_t> BuildGetDestsRequest(const NetlinkRequestHeader& h, const IpvsServiceKey& svc);

std::vector<uint8_t> BuildSetConfigRequest(const NetlinkRequestHeader& h, const IpvsTimeouts& t);
std::vector<uint8_t> BuildGetConfigRequest(const NetlinkRequestHeader& h);

// One message of a reply buffer; `payload` points into the buffer given to SplitNetlinkMessages.
struct NetlinkMessage {
  uint16_t type = 0;
  uint16_t flags = 0;
  uint32_t seq = 0;
  uint32_t port_id = 0;
  std::span<const uint8_t> payload;  // everything after nlmsghdr
};

// Splits a datagram into its messages; fails on truncated or misaligned input.
Result<std::vector<NetlinkMessage>> SplitNetlinkMessages(std::span<const uint8_t> data);
// For an NLMSG_ERROR message: the positive errno, or 0 for an ACK.
Result<int> ParseErrorMessage(const NetlinkMessage& msg);
// A service from a GET_SERVICE dump part (command IPVS_CMD_NEW_SERVICE). Services kpx cannot
// represent (firewall-mark services, unknown protocols) come back as errors the caller skips.
Result<IpvsService> ParseServiceMessage(const NetlinkMessage& msg);
// A destination from a GET_DEST dump part; `service_family` is used when the kernel omits
// IPVS_DEST_ATTR_ADDR_FAMILY (kernels before 4.x).
Result<IpvsDestination> ParseDestinationMessage(const NetlinkMessage& msg, IpFamily service_family);
// The timeouts from a GET_CONFIG reply.
Result<IpvsTimeouts> ParseConfigMessage(const NetlinkMessage& msg);

}  // namespace kpx
