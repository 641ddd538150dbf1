#pragma once

#include <string>

namespace kpx::testing {

// kSctp: a one-to-one style SCTP socket (SOCK_STREAM, IPPROTO_SCTP), used like TCP.
enum class Transport { kTcp, kUdp, kSctp };

// One bounded request/answer with ip:port, as a client probing a Service does: TCP and SCTP
// connect and read the first line the server sends; UDP sends "ping\n" and reads the first line
// of the answer. Returns that line, or "ERROR <reason>": "refused" for a fast failure (a REJECT
// rule, a closed port), "timeout" for silence, "unreachable", "closed", or the errno text. Each
// wait (connect, answer) lasts at most `timeout_ms`. `source` binds the client address first.
std::string ExchangeOnce(Transport transport, const std::string& ip, int port, int timeout_ms,
                         const std::string& source = "");

// Why SCTP sockets cannot be made here ("" if they can): kernels built without CONFIG_IP_SCTP
// (this project's build hosts) refuse them with EPROTONOSUPPORT.
std::string SctpUnavailable();
// True when KPX_REQUIRE_SCTP=1 is set (the VM tests set it, their kernel has SCTP): an SCTP test
// then fails where it would otherwise skip, so a VM without SCTP cannot pass silently.
bool SctpRequired();

}  // namespace kpx::testing
