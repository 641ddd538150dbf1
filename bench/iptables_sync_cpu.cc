// kpx-bench-iptables-sync N [ENDPOINTS] [SYNCS] [DUMP_DIR]: kpx's own CPU per iptables sync.
//
// Builds N ClusterIP services x ENDPOINTS endpoints (one family), applies them with the iptables
// dataplane over a runner that only counts what it is handed (so the kernel's and
// iptables-restore's share, the whole-table hand-off, is excluded), then changes one endpoint of
// one service SYNCS times and applies each change as an incremental sync. Prints the CPU time
// of this thread per sync, the bytes handed to the runner and RSS. With DUMP_DIR, writes the
// first sync's restore input (full.txt) and the last incremental one (partial.txt), so the
// hand-off can be timed separately with iptables-restore in a private namespace. Bounded: SYNCS
// defaults to 20.
#include <malloc.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "proxier/core/endpoint_selection.h"
#include "proxier/iptables/iptables_dataplane.h"
#include "proxier/netfilter/fake_conntrack.h"

namespace {

using kpx::IpFamily;

// Counts what the dataplane hands to the kernel and keeps the last restore input.
class CountingRunner : public kpx::IptablesRunner {
 public:
  std::string_view Name() const override { return "counting"; }
  kpx::Status Restore(IpFamily, std::string_view text) override {
    bytes += text.size();
    last.assign(text);
    return kpx::Status::Ok();
  }
  kpx::Result<std::string> Save(IpFamily, std::string_view table) override {
    return "*" + std::string(table) + "\n:KUBE-PROXY-CANARY - [0:0]\nCOMMIT\n";
  }
  kpx::Result<bool> EnsureJump(IpFamily, const kpx::JumpRule&) override { return false; }
  kpx::Result<bool> DeleteJump(IpFamily, const kpx::JumpRule&) override { return false; }
  kpx::Status DeleteChains(IpFamily, std::string_view, const std::vector<std::string>&) override {
    return kpx::Status::Ok();
  }
  size_t bytes = 0;
  std::string last;
};

double ThreadCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

long StatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::string(field).size());
  }
  return -1;
}

kpx::IpAddress Addr(int a, int b, int c, int d) {
  return *kpx::IpAddress::Parse(std::to_string(a) + "." + std::to_string(b) + "." +
                                std::to_string(c) + "." + std::to_string(d));
}

kpx::ServicePortStatePtr Port(int i, int endpoints, int variant) {
  kpx::ServicePortState port;
  kpx::ServicePortInfo& info = port.info;
  char name[32];
  std::snprintf(name, sizeof(name), "svc-%05d", i);
  info.name = {"bench", name, "http", kpx::Protocol::kTCP};
  info.protocol = kpx::Protocol::kTCP;
  info.port = 80;
  info.cluster_ip[0] = Addr(10, 100, i / 250, i % 250 + 1);
  std::vector<kpx::EndpointInfo> eps;
  for (int e = 0; e < endpoints; ++e) {
    kpx::EndpointInfo* ep = &eps.emplace_back();
    // Every endpoint its own address; the edited one alternates between two, as bench/run's
    // edit of one slice does.
    const int k = i * endpoints + e;
    ep->ip = Addr(10, 128 + k / 65536, (k / 256) % 256, k % 256);
    if (e == 0 && variant % 2 == 1) ep->ip = Addr(10, 127, i / 256, i % 256);
    ep->port = 8080;
    ep->ready = ep->serving = true;
  }
  port.endpoints[0] = kpx::SelectEndpoints(info, kpx::EndpointList(std::move(eps)), {"node", ""});
  return kpx::ServicePortStatePtr::Make(std::move(port));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s N [ENDPOINTS] [SYNCS] [DUMP_DIR]\n", argv[0]);
    return 2;
  }
  const int n = std::atoi(argv[1]);
  const int endpoints = argc > 2 ? std::atoi(argv[2]) : 10;
  const int syncs = std::min(argc > 3 ? std::atoi(argv[3]) : 20, 200);
  const std::string dump = argc > 4 ? argv[4] : "";

  kpx::DesiredState state;
  state.synced = true;
  state.node.name = "node";
  state.node.addresses = {Addr(10, 98, 0, 2)};
  for (int i = 0; i < n; ++i) {
    auto p = Port(i, endpoints, 0);
    state.changed.insert(p->info.name);
    state.services.emplace(p->info.name, std::move(p));
  }
  const long rss_state = StatusKb("VmRSS:");

  kpx::IptablesOptions o;
  o.families = {IpFamily::kIPv4};
  o.cluster_cidrs = {*kpx::Cidr::Parse("10.128.0.0/10")};
  auto runner = std::make_unique<CountingRunner>();
  CountingRunner& counting = *runner;
  kpx::IptablesDataplane dataplane(o, std::move(runner), std::make_unique<kpx::FakeConntrack>());

  double t0 = ThreadCpuMs();
  const auto wall0 = std::chrono::steady_clock::now();
  if (!dataplane.Apply(state, true).ok()) return 1;
  const double first_ms = ThreadCpuMs() - t0;
  // A full render shares the ports with a helper thread, whose CPU the figure above leaves out.
  const double first_wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall0).count();
  const size_t first_bytes = counting.bytes;
  if (!dump.empty()) std::ofstream(dump + "/full.txt") << counting.last;
  counting.last.clear();
  counting.last.shrink_to_fit();
  // As SyncingProxier does after a full sync: hand freed heap back, so RSS shows what is live.
  malloc_trim(0);
  const long rss_first = StatusKb("VmRSS:");

  std::vector<double> ms;
  size_t written = 0;
  for (int s = 1; s <= syncs; ++s) {
    // The snapshot the core would hand over: shared entries, one changed (not timed).
    kpx::DesiredState next = state;
    next.generation = state.generation + 1;
    next.changed.clear();
    auto p = Port(n / 2, endpoints, s);
    next.changed.insert(p->info.name);
    next.services.insert_or_assign(p->info.name, std::move(p));
    state = std::move(next);
    const size_t before = counting.bytes;
    t0 = ThreadCpuMs();
    if (!dataplane.Apply(state, false).ok()) return 1;
    ms.push_back(ThreadCpuMs() - t0);
    written = counting.bytes - before;
  }
  if (!dump.empty()) std::ofstream(dump + "/partial.txt") << counting.last;
  std::sort(ms.begin(), ms.end());
  std::printf(
      "n=%d endpoints=%d first_sync_cpu_ms=%.1f first_sync_wall_ms=%.1f first_bytes=%zu "
      "incr_sync_cpu_ms_median=%.3f "
      "incr_sync_cpu_ms_max=%.3f incr_bytes=%zu rss_state_mib=%.1f rss_after_first_mib=%.1f "
      "rss_steady_mib=%.1f rss_peak_mib=%.1f\n",
      n, endpoints, first_ms, first_wall_ms, first_bytes, ms[ms.size() / 2], ms.back(), written,
      static_cast<double>(rss_state) / 1024, static_cast<double>(rss_first) / 1024,
      static_cast<double>(StatusKb("VmRSS:")) / 1024,
      static_cast<double>(StatusKb("VmHWM:")) / 1024);
  return 0;
}
