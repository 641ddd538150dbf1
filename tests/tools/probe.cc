// kpx-probe tcp|udp|sctp IP PORT [--timeout-ms N] [--count N] [--interval-ms N] [--summary]
//           [--source IP]
//
// Connects (or sends a datagram) N times and prints the first reply line of each attempt, or
// "ERROR <reason>" — "refused" for a fast failure (a REJECT rule), "timeout" for silence. Exits
// 0 when every attempt got a reply. --summary prints only "ok=N failed=M" at the end, for loops
// that run across a restart; SIGINT ends such a loop early, still printing the summary.

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/support/exchange.h"
#include "tests/support/socket_address.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSigint(int) { g_stop = 1; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s tcp|udp|sctp IP PORT [--timeout-ms N] [--count N]\n", argv[0]);
    return 2;
  }
  kpx::testing::Transport transport;
  if (std::strcmp(argv[1], "tcp") == 0) {
    transport = kpx::testing::Transport::kTcp;
  } else if (std::strcmp(argv[1], "udp") == 0) {
    transport = kpx::testing::Transport::kUdp;
  } else if (std::strcmp(argv[1], "sctp") == 0) {
    transport = kpx::testing::Transport::kSctp;
  } else {
    std::fprintf(stderr, "unknown protocol %s (tcp, udp or sctp)\n", argv[1]);
    return 2;
  }
  int timeout_ms = 2000;
  int count = 1;
  int interval_ms = 0;
  bool summary = false;
  std::string source;
  for (int i = 4; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--summary") == 0) {
      summary = true;
    } else if (std::strcmp(argv[i], "--timeout-ms") == 0 && has_value) {
      timeout_ms = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--count") == 0 && has_value) {
      count = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--source") == 0 && has_value) {
      source = argv[++i];
    } else if (std::strcmp(argv[i], "--interval-ms") == 0 && has_value) {
      interval_ms = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  const std::string ip = argv[2];
  const int port = std::atoi(argv[3]);
  sockaddr_storage ss;
  socklen_t len;
  if (!kpx::testing::MakeSockaddr(ip, port, &ss, &len)) {
    std::fprintf(stderr, "bad address %s\n", argv[2]);
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSigint;
  sigaction(SIGINT, &sa, nullptr);
  int ok = 0;
  int failed = 0;
  for (int i = 0; i < count && !g_stop; ++i) {
    if (i > 0 && interval_ms > 0) usleep(static_cast<useconds_t>(interval_ms) * 1000);
    const std::string r = kpx::testing::ExchangeOnce(transport, ip, port, timeout_ms, source);
    if (r.rfind("ERROR", 0) == 0) {
      // SIGINT cut this attempt short (the syscall returned EINTR): the loop was told to stop,
      // the network did not fail.
      if (g_stop) break;
      ++failed;
      if (summary) std::fprintf(stderr, "attempt %d: %s\n", i, r.c_str());
    } else {
      ++ok;
    }
    if (!summary) std::printf("%s\n", r.c_str());
  }
  if (summary) std::printf("ok=%d failed=%d\n", ok, failed);
  return failed == 0 ? 0 : 1;
}
