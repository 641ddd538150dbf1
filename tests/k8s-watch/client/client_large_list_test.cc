#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>

#include "k8s-watch/client/api_source.h"
#include "tests/k8s-watch/client/fake_api_server.h"
#include "tests/k8s-watch/client/test_pki.h"
#include "tests/support/api_objects.h"
#include "tests/support/counting_handler.h"
#include "tests/support/wire_objects.h"

// The initial sync of a large cluster: 10 000 Services and 10 000 EndpointSlices, listed in pages
// of 500. The fake API server runs in a forked child so that the RSS printed here is the
// client's alone. Timing and memory are reported, not asserted: the machine is shared.
namespace kpx {
namespace {

using namespace std::chrono_literals;
using testing::CountingHandler;
using testing::FakeApiServer;
using R = FakeApiServer::Resource;

constexpr int kObjects = 10000;

// A field of /proc/self/status in kB ("VmRSS", "VmHWM").
long StatusKb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// Child process: fills and serves the fake API server until the parent closes `done_fd`.
[[noreturn]] void ServeInChild(const testing::TestPki& pki, int ready_fd, int done_fd) {
  FakeApiServer server(pki);
  server.SetTokens({{"big-token", "system:node:kpx-node"}});
  for (int i = 0; i < kObjects; ++i) {
    const std::string ns = "ns-" + std::to_string(i % 100);
    const std::string name = "svc-" + std::to_string(i);
    server.Put(R::kServices, testing::ServiceObject(testing::MakeService(ns, name, [&](Service& s) {
                 s.cluster_ips = {testing::Ip(testing::ClusterIp(i))};
                 s.ports[0].port = 80 + i % 1000;
               })));
    std::vector<Endpoint> endpoints;
    for (int k = 3 * i; k < 3 * i + 3; ++k) {
      endpoints.push_back(testing::MakeEndpoint(testing::PodIp(k), "kpx-node",
                                                [](Endpoint& e) { e.zone = "zone-a"; }));
    }
    server.Put(R::kEndpointSlices, testing::SliceObject(testing::MakeSlice(
                                       ns, name, name + "-abcde", std::move(endpoints))));
  }
  server.Put(R::kNodes, testing::NodeObject(testing::MakeNode("kpx-node", [](Node& n) {
               n.internal_ips = {testing::Ip("192.168.1.10")};
               n.pod_cidrs = {testing::Net("10.244.1.0/24")};
               n.meta.labels["topology.kubernetes.io/zone"] = "zone-a";
             })));
  server.ServeInChild(ready_fd, done_fd);
}

TEST(LargeListTest, InitialSyncOfTenThousandServicesAndSlices) {
  const testing::TestPki pki = testing::TestPki::Generate();
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  // Forked before this process starts any thread, so the child is a clean copy.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    close(done[1]);
    ServeInChild(pki, ready[1], done[0]);
  }
  close(ready[1]);
  close(done[0]);
  auto reap = [&] {
    close(done[1]);
    for (int i = 0; i < 200; ++i) {
      if (waitpid(child, nullptr, WNOHANG) == child) return;
      std::this_thread::sleep_for(50ms);
    }
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  };

  pollfd p{ready[0], POLLIN, 0};
  int port = 0;
  const bool ready_ok =
      poll(&p, 1, 120000) == 1 && read(ready[0], &port, sizeof(port)) == sizeof(port);
  close(ready[0]);
  if (!ready_ok) {
    reap();
    FAIL() << "fake API server child did not come up";
  }

  ClientConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(port);
  config.certificate_authority_pem = pki.ca_pem;
  config.token = "big-token";
  config.origin = "large list test";
  CountingHandler handler;
  SourceStats stats;
  const long rss_before = StatusKb("VmRSS");
  const auto started = std::chrono::steady_clock::now();
  {
    ApiSource source(config, "kpx-node", &handler, &handler, &handler, stats);
    ASSERT_TRUE(source.Start().ok());
    const bool synced = handler.WaitSynced(180s);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const long rss_after = StatusKb("VmRSS");
    const long hwm = StatusKb("VmHWM");
    source.Stop();
    std::cout << "[ MEASURED ] initial sync of " << kObjects << " services + " << kObjects
              << " endpoint slices (pages of 500, TLS, 127.0.0.1): " << seconds << " s; "
              << "RSS before " << rss_before / 1024 << " MiB, after sync " << rss_after / 1024
              << " MiB (+" << (rss_after - rss_before) / 1024 << " MiB), peak " << hwm / 1024
              << " MiB" << std::endl;
    ::testing::Test::RecordProperty("initial_sync_seconds", std::to_string(seconds));
    ::testing::Test::RecordProperty("rss_after_sync_kb", std::to_string(rss_after));
    EXPECT_TRUE(synced);
  }
  reap();
  EXPECT_EQ(handler.services(), kObjects);
  EXPECT_EQ(handler.slices(), kObjects);
  EXPECT_EQ(handler.nodes(), 1);
  EXPECT_EQ(stats.objects_rejected.load(), 0u);
  EXPECT_EQ(stats.events_received.load(), 2u * kObjects + 1u);
}

}  // namespace
}  // namespace kpx
