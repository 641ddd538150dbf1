// kpx-list-memory: the API source's peak memory on one large LIST, for the README and reviews (a
// figure, not a test). A forked child serves N MiB of Services through FakeApiServer (each
// Service padded with a kubectl last-applied-configuration annotation, which kpx drops, as real
// clusters' lists are dominated by such metadata); this process runs an ApiSource against it
// until the initial sync, counting objects without keeping them, and prints its own peak RSS.
//
//   kpx-list-memory [--mib N] [--ignore-limit] [--timeout-seconds S]
//
// --ignore-limit makes the server answer every list in one page, whatever `limit` asks.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "k8s-watch/client/api_source.h"
#include "tests/k8s-watch/client/fake_api_server.h"
#include "tests/k8s-watch/client/test_pki.h"
#include "tests/support/api_objects.h"
#include "tests/support/counting_handler.h"
#include "tests/support/wire_objects.h"

namespace {

using kpx::testing::FakeApiServer;

long StatusKb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

FakeApiServer::Object PaddedService(int i) {
  const std::string ns = "ns-" + std::to_string(i % 100);
  const std::string name = "svc-" + std::to_string(i);
  FakeApiServer::Object object =
      kpx::testing::ServiceObject(kpx::testing::MakeService(ns, name, [&](kpx::Service& s) {
        s.cluster_ips = {kpx::testing::Ip(kpx::testing::ClusterIp(i))};
        s.ports[0].port = 80 + i % 1000;
      }));
  return kpx::testing::WithLastApplied(std::move(object), 8192);
}

[[noreturn]] void ServeInChild(const kpx::testing::TestPki& pki, int objects, bool ignore_limit,
                               int ready_fd, int done_fd) {
  FakeApiServer server(pki);
  server.SetTokens({{"list-token", "system:node:kpx-node"}});
  server.SetIgnoreLimit(ignore_limit);
  for (int i = 0; i < objects; ++i) {
    server.Put(FakeApiServer::Resource::kServices, PaddedService(i));
  }
  server.ServeInChild(ready_fd, done_fd);
}

}  // namespace

int main(int argc, char** argv) {
  long mib = 512;
  bool ignore_limit = false;
  int timeout_seconds = 600;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--mib" && i + 1 < argc) {
      mib = std::atol(argv[++i]);
    } else if (arg == "--ignore-limit") {
      ignore_limit = true;
    } else if (arg == "--timeout-seconds" && i + 1 < argc) {
      timeout_seconds = std::atoi(argv[++i]);
    } else {
      std::cerr << "usage: kpx-list-memory [--mib N] [--ignore-limit] [--timeout-seconds S]\n";
      return 2;
    }
  }
  const size_t item_bytes = PaddedService(0).render(1).size();
  const int objects = static_cast<int>((static_cast<size_t>(mib) << 20) / (item_bytes + 1));
  const kpx::testing::TestPki pki = kpx::testing::TestPki::Generate();
  int ready[2], done[2];
  if (pipe(ready) != 0 || pipe(done) != 0) return 1;
  // Forked before this process starts any thread, so the child is a clean copy.
  const pid_t child = fork();
  if (child < 0) return 1;
  if (child == 0) {
    close(ready[0]);
    close(done[1]);
    ServeInChild(pki, objects, ignore_limit, ready[1], done[0]);
  }
  close(ready[1]);
  close(done[0]);
  pollfd p{ready[0], POLLIN, 0};
  int port = 0;
  if (poll(&p, 1, 600000) != 1 || read(ready[0], &port, sizeof(port)) != sizeof(port)) {
    std::cerr << "the fake API server did not come up\n";
    kill(child, SIGKILL);
    return 1;
  }

  kpx::ClientConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(port);
  config.certificate_authority_pem = pki.ca_pem;
  config.token = "list-token";
  config.origin = "kpx-list-memory";
  kpx::testing::CountingHandler handler;
  kpx::SourceStats stats;
  const long rss_before = StatusKb("VmRSS");
  const auto started = std::chrono::steady_clock::now();
  bool synced = false;
  {
    kpx::ApiSource source(config, "kpx-node", &handler, &handler, &handler, stats);
    if (!source.Start().ok()) return 1;
    synced = handler.WaitSynced(std::chrono::seconds(timeout_seconds));
    source.Stop();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "list of " << objects << " services, " << mib << " MiB ("
            << (ignore_limit ? "one page, limit ignored" : "pages of 500")
            << "): " << (synced ? "synced" : "NOT synced") << " in " << seconds << " s, "
            << handler.services() << " services seen; RSS before " << rss_before / 1024
            << " MiB, peak " << StatusKb("VmHWM") / 1024 << " MiB" << std::endl;
  close(done[1]);
  waitpid(child, nullptr, 0);
  return synced ? 0 : 1;
}
