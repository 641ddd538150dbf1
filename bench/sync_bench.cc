// kpx-sync-bench: kpx's own CPU per one-endpoint sync, on the stateful kernel fakes.
//
//   kpx-sync-bench [--mode ipvs] [--services N] [--endpoints E] [--syncs K] [--null-kernel]
//
// Builds N ClusterIP services (TCP 80 -> 8080, ClusterIPs from 10.100.0.1, E endpoints each with
// their own address, all on this node, so KUBE-LOOP-BACK holds N x E entries) in proxier/core's
// StateBuilder, applies the first (full) snapshot to the IPVS dataplane over the fakes, then K
// times changes one endpoint address of the middle service and measures the snapshot and the
// Apply with the process CPU clock (user + system, this thread only runs). Prints one line of
// key=value pairs: the median and max CPU per sync (snapshot, apply, both), the full sync's CPU,
// steady RSS (VmRSS after the syncs, freed heap returned with malloc_trim as the sync runner
// does after a full sync) and peak RSS (VmHWM), the core's state alone (before the first
// snapshot) and the dataplane's own share (what RSS drops by when it is destroyed; the rest is
// the fake kernel, which holds a copy of every service, destination and ipset entry).
// --null-kernel replaces the stateful fakes of IPVS and ipset with tables that accept everything
// and keep nothing (bench/null_*.h), as the real kernel keeps nothing in kpx's address space: the
// RSS is then kpx's own, including how its full sync leaves the heap (the fakes' allocations
// would share its pages). It also prints glibc's malloc_stats (in use against held) on stderr.
//
// The fakes answer in O(log n) per operation, so what is measured is kpx's work; the kernel's
// own cost (netlink, ipset) is not included. Bounded: N <= 50 000, E <= 100, K <= 1 000.

#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench/null_ipset.h"
#include "bench/null_ipvs_handle.h"
#include "proxier/core/state_builder.h"
#include "proxier/ipvs/fake_ipvs_handle.h"
#include "proxier/ipvs/fake_link_handle.h"
#include "proxier/ipvs/ipvs_dataplane.h"
#include "proxier/netfilter/fake_ipset.h"
#include "proxier/netfilter/fake_iptables_runner.h"
#include "proxier/netfilter/fake_sysctl.h"

namespace kpx {
namespace {

constexpr char kNode[] = "kpx-node";

double CpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

long StatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, n, field) == 0) return std::atol(line.c_str() + n + 1);
  }
  return -1;
}

IpAddress V4(uint32_t v) {
  std::array<uint8_t, 16> b{};
  b[0] = v >> 24;
  b[1] = (v >> 16) & 0xff;
  b[2] = (v >> 8) & 0xff;
  b[3] = v & 0xff;
  return IpAddress::FromBytes(IpFamily::kIPv4, b);
}

std::string Name(long i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "svc-%05ld", i);
  return buf;
}

Service MakeService(long i) {
  Service s;
  s.meta.namespace_ = "bench";
  s.meta.name = Name(i);
  s.cluster_ips = {V4((10u << 24 | 100u << 16) + 1 + i)};
  ServicePortSpec p;
  p.protocol = Protocol::kTCP;
  p.port = 80;
  s.ports = {p};
  return s;
}

EndpointSlice MakeSlice(long i, int endpoints, uint32_t shift) {
  EndpointSlice sl;
  sl.meta.namespace_ = "bench";
  sl.meta.name = Name(i) + "-abcde";
  sl.service_name = Name(i);
  sl.address_type = IpFamily::kIPv4;
  EndpointSlicePort port;
  port.protocol = Protocol::kTCP;
  port.port = 8080;
  sl.ports = {port};
  for (int e = 0; e < endpoints; ++e) {
    Endpoint ep;
    // 10.128.0.0/9 holds 8 M addresses: one per endpoint, and a spare range for the edits.
    ep.addresses = {V4((10u << 24 | 128u << 16) + 1 + i * endpoints + e + (e == 0 ? shift : 0))};
    ep.node_name = kNode;
    sl.endpoints.push_back(ep);
  }
  return sl;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Run(long services, int endpoints, int syncs, bool null_kernel) {
  StateBuilder builder(kNode);
  for (long i = 0; i < services; ++i) {
    builder.UpdateService(MakeService(i));
    builder.AddEndpointSlice(MakeSlice(i, endpoints, 0));
  }
  builder.SetSynced(true);
  malloc_trim(0);
  const long rss_state = StatusKb("VmRSS:");

  std::shared_ptr<IpvsHandle> ipvs = std::make_shared<FakeIpvsHandle>();
  std::shared_ptr<Ipset> ipset = std::make_shared<FakeIpset>();
  if (null_kernel) {
    ipvs = std::make_shared<NullIpvsHandle>();
    ipset = std::make_shared<NullIpset>();
  }
  auto link = std::make_shared<FakeLinkHandle>();
  link->AddInterface("eth0", {V4(10u << 24 | 98u << 16 | 2)});
  IpvsSeams seams{
      ipvs,   link, ipset, std::make_shared<FakeIptablesRunner>(), std::make_shared<FakeSysctl>(),
      nullptr};
  auto dp_owner = std::make_unique<IpvsDataplane>(IpvsOptions{}, std::move(seams));
  IpvsDataplane& dp = *dp_owner;

  double t0 = CpuMs();
  {
    const DesiredState first = builder.Snapshot();
    if (Status s = dp.Apply(first, true); !s.ok()) {
      std::fprintf(stderr, "full sync failed: %s\n", s.message().c_str());
      return 1;
    }
  }
  const double full_ms = CpuMs() - t0;
  malloc_trim(0);

  const long edit = services / 2;
  EndpointSlice current = MakeSlice(edit, endpoints, 0);
  std::vector<double> snap, apply, both;
  for (int k = 0; k < syncs; ++k) {
    // Alternate the first endpoint between two addresses beyond every other endpoint's.
    EndpointSlice next =
        MakeSlice(edit, endpoints, k % 2 == 0 ? static_cast<uint32_t>(services * endpoints) : 0);
    builder.UpdateEndpointSlice(current, next);
    current = std::move(next);
    const double a = CpuMs();
    const DesiredState state = builder.Snapshot();
    const double b = CpuMs();
    Status s = dp.Apply(state, false);
    const double c = CpuMs();
    if (!s.ok()) {
      std::fprintf(stderr, "sync %d failed: %s\n", k, s.message().c_str());
      return 1;
    }
    if (dp.counters().last_plan_size == 0) {
      std::fprintf(stderr, "sync %d changed nothing in IPVS\n", k);
      return 1;
    }
    snap.push_back(b - a);
    apply.push_back(c - b);
    both.push_back(c - a);
  }
  malloc_trim(0);
  const long rss = StatusKb("VmRSS:");
  if (null_kernel) malloc_stats();
  // What the dataplane itself holds (its caches and picture of the kernel): the drop when it
  // goes. The rest is the core's state and the fake kernel.
  const size_t ops = dp.counters().last_plan_size;
  const size_t servers = dp.counters().virtual_servers;
  dp_owner.reset();
  malloc_trim(0);
  const long rss_without_dp = StatusKb("VmRSS:");
  std::printf(
      "mode=ipvs kernel=%s services=%ld endpoints=%d syncs=%d full_sync_cpu_ms=%.1f "
      "sync_cpu_ms_median=%.3f sync_cpu_ms_max=%.3f snapshot_cpu_ms_median=%.3f "
      "apply_cpu_ms_median=%.3f ops_last=%zu virtual_servers=%zu rss_steady_mib=%.1f "
      "rss_peak_mib=%.1f rss_core_state_mib=%.1f rss_dataplane_mib=%.1f\n",
      null_kernel ? "null" : "fake", services, endpoints, syncs, full_ms, Median(both),
      *std::max_element(both.begin(), both.end()), Median(snap), Median(apply), ops, servers,
      rss / 1024.0, StatusKb("VmHWM:") / 1024.0, rss_state / 1024.0,
      (rss - rss_without_dp) / 1024.0);
  return 0;
}

}  // namespace
}  // namespace kpx

int main(int argc, char** argv) {
  long services = 1000;
  int endpoints = 10;
  int syncs = 21;
  bool null_kernel = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--mode" && v) {
      if (std::string(v) != "ipvs") {
        std::fprintf(stderr, "only --mode ipvs is measured here\n");
        return 2;
      }
      ++i;
    } else if (a == "--services" && v) {
      services = std::atol(argv[++i]);
    } else if (a == "--endpoints" && v) {
      endpoints = std::atoi(argv[++i]);
    } else if (a == "--syncs" && v) {
      syncs = std::atoi(argv[++i]);
    } else if (a == "--null-kernel") {
      null_kernel = true;
    } else {
      std::fprintf(stderr,
                   "usage: kpx-sync-bench [--mode ipvs] [--services N] [--endpoints E] "
                   "[--syncs K] [--null-kernel]\n");
      return 2;
    }
  }
  if (services < 1 || services > 50000 || endpoints < 1 || endpoints > 100 || syncs < 1 ||
      syncs > 1000) {
    std::fprintf(stderr, "out of bounds: 1 <= N <= 50000, 1 <= E <= 100, 1 <= K <= 1000\n");
    return 2;
  }
  return kpx::Run(services, endpoints, syncs, null_kernel);
}
