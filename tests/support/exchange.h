#pragma once

#include <string>

namespace kpx::testing {

enum class Transport { kTcp, kUdp };

// One bounded request/answer with ip:port, as a client probing a Service does: TCP connects and
// reads the first line the server sends; UDP sends "ping\n" and reads the first line of the
// answer. Returns that line, or "ERROR <reason>": "refused" for a fast failure (a REJECT rule, a
// closed port), "timeout" for silence, "unreachable", "closed", or the errno text. Each wait
// (connect, answer) lasts at most `timeout_ms`. `source` binds the client address first.
std::string ExchangeOnce(Transport transport, const std::string& ip, int port, int timeout_ms,
                         const std::string& source = "");

}  // namespace kpx::testing
