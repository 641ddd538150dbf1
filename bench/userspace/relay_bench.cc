// kpx-relay-bench --workers N --backend IP:PORT [--backend IP:PORT]... [--pipe-size BYTES]
//
// Runs kpx's userspace relay (EpollRelayEngine, the code --mode=userspace uses) for one TCP
// frontend, without portal rules: it prints "port P" once listening on 0.0.0.0:P, then serves
// until SIGTERM or SIGINT. Lets bench/userspace/run.sh put kpx and HAProxy in front of the same
// backends with the same client.

#include <glog/logging.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "proxier/userspace/epoll_relay_engine.h"

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  kpx::UserspaceOptions options;
  options.families = {kpx::IpFamily::kIPv4};
  options.workers = 1;
  kpx::FrontendSpec spec;
  spec.key.service = {"bench", "relay", "", kpx::Protocol::kTCP};
  spec.protocol = kpx::Protocol::kTCP;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i];
    const std::string v = argv[i + 1];
    if (f == "--workers") {
      options.workers = std::atoi(v.c_str());
    } else if (f == "--pipe-size") {
      options.pipe_size = static_cast<size_t>(std::atol(v.c_str()));
    } else if (f == "--backend") {
      const auto colon = v.rfind(':');
      auto ip = kpx::IpAddress::Parse(v.substr(0, colon));
      if (colon == std::string::npos || !ip) {
        std::fprintf(stderr, "bad --backend %s\n", v.c_str());
        return 2;
      }
      spec.backends[0].push_back(
          kpx::Backend{*ip, static_cast<uint16_t>(std::atoi(v.c_str() + colon + 1))});
    } else {
      std::fprintf(stderr, "unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  // Blocked before the workers start, so only sigwait below sees them.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  options.max_connections_per_service = 0;
  options.require_portal = false;  // the load generator connects to the listener directly
  kpx::EpollRelayEngine engine(options);
  auto frontend = std::make_shared<kpx::Frontend>(spec, 0, std::chrono::seconds(10));
  auto port = engine.Open(frontend);
  if (!port.ok()) {
    std::fprintf(stderr, "open: %s\n", port.status().message().c_str());
    return 1;
  }
  std::printf("port %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  const kpx::UserspaceCounters c = engine.Counters();
  std::fprintf(stderr, "accepted %llu failed_connects %llu bytes %llu\n",
               static_cast<unsigned long long>(c.accepted),
               static_cast<unsigned long long>(c.failed_connects),
               static_cast<unsigned long long>(c.bytes_spliced));
  return 0;
}
