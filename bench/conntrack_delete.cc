// kpx-bench-conntrack: the cost of one sync's UDP conntrack cleanup, spawning conntrack(8) once
// per filter as kpx did before (the argv ExecConntrack ran) against NetlinkConntrack, which kpx
// uses now (one call per sync). It moves itself into a network namespace of its own first
// (unshare), so the entries it creates and deletes are never the host's:
//
//   kpx-bench-conntrack [--entries N] [--repeat R]
//
// For an empty table and two of N entries (default 10 000; see `tables` below), and for 1 and
// 10 filters per sync (the
// cleaner's shape for a removed endpoint: orig-dst + dst-nat, one removed endpoint each), times R
// syncs (default 20) of each adapter. With entries, each filter matches exactly one entry, which
// is recreated between syncs, untimed; every sync must delete exactly the matches or the tool
// stops. Prints CSV rows `table,entries,filters,adapter,median_ms,p90_ms,max_ms,user_ms,sys_ms,
// dumped`: wall time per sync, CPU per sync (mean; this process plus its children) in user space
// and in the kernel, which says where the time goes on a loaded machine, and for the in-process
// adapter the entries the kernel sent in the last sync's dump. Exit status 0, 1 on
// a failure (message on stderr), 2 on usage errors.
#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "proxier/netfilter/netlink_conntrack.h"
#include "proxier/netfilter/subprocess_executor.h"

namespace {

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "kpx-bench-conntrack: %s\nusage: kpx-bench-conntrack [--entries N] [--repeat R]\n",
               why.c_str());
  std::exit(2);
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "kpx-bench-conntrack: %s\n", what.c_str());
  std::exit(1);
}

constexpr const char* kService = "10.96.0.10";
// The endpoint every other entry is translated to; it stays.
constexpr const char* kKeptEndpoint = "10.244.1.1";
// Removed endpoint i is 10.244.0.(10+i); its one entry comes from client 10.0.0.(1+i).
std::string RemovedEndpoint(int i) { return "10.244.0." + std::to_string(10 + i); }
constexpr uint32_t kFirstVictim = 0x0a000001;  // 10.0.0.1
// Other clients start above every victim.
constexpr uint32_t kFirstOther = 0x0a010000;  // 10.1.0.0

// Creates an entry client:port -> service:53 translated to `endpoint`: the reply tuple is given
// untranslated and the kernel's NAT setup rewrites it, as for a packet that went through DNAT.
void Create(nfct_handle* h, uint32_t client, uint16_t port, const std::string& endpoint,
            const std::string& service = kService, uint8_t protocol = IPPROTO_UDP) {
  nf_conntrack* ct = nfct_new();
  if (!ct) Fail("out of memory");
  uint32_t svc = 0, ep = 0;
  inet_pton(AF_INET, service.c_str(), &svc);
  inet_pton(AF_INET, endpoint.c_str(), &ep);
  nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
  nfct_set_attr_u8(ct, ATTR_L4PROTO, protocol);
  if (protocol == IPPROTO_TCP) nfct_set_attr_u8(ct, ATTR_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
  nfct_set_attr_u32(ct, ATTR_IPV4_SRC, htonl(client));
  nfct_set_attr_u32(ct, ATTR_IPV4_DST, svc);
  nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(port));
  nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(53));
  nfct_setobjopt(ct, NFCT_SOPT_SETUP_REPLY);
  nfct_set_attr_u32(ct, ATTR_DNAT_IPV4, ep);
  nfct_set_attr_u32(ct, ATTR_TIMEOUT, 600);
  const int r = nfct_query(h, NFCT_Q_CREATE, ct);
  nfct_destroy(ct);
  if (r < 0 && errno != EEXIST) Fail(std::string("create entry: ") + std::strerror(errno));
}

struct Stats {
  double median, p90, max;
};

// CPU time of this process and its waited-for children, in ms: {user, sys}.
std::pair<double, double> CpuMs() {
  double user = 0, sys = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage u{};
    getrusage(who, &u);
    user += u.ru_utime.tv_sec * 1e3 + u.ru_utime.tv_usec / 1e3;
    sys += u.ru_stime.tv_sec * 1e3 + u.ru_stime.tv_usec / 1e3;
  }
  return {user, sys};
}

Stats Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 9 / 10)], ms.back()};
}

}  // namespace

int main(int argc, char** argv) {
  int entries = 10000, repeat = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Usage("missing value for " + a);
    if (a == "--entries") {
      entries = std::atoi(argv[++i]);
    } else if (a == "--repeat") {
      repeat = std::atoi(argv[++i]);
    } else {
      Usage("unknown option " + a);
    }
  }
  if (entries < 10 || entries > 200000 || repeat < 1 || repeat > 1000) Usage("out of range");
  if (unshare(CLONE_NEWNET) != 0) Fail(std::string("unshare: ") + std::strerror(errno));

  nfct_handle* h = nfct_open(CONNTRACK, 0);
  if (!h) Fail(std::string("nfct_open: ") + std::strerror(errno));
  kpx::SubprocessExecutor exec;
  kpx::NetlinkConntrack netlink;

  std::printf("table,entries,filters,adapter,median_ms,p90_ms,max_ms,user_ms,sys_ms,dumped\n");
  // The tables: empty; N entries of one service (every entry is of the filters' service and
  // protocol, so the kernel can filter nothing out: the worst case); N entries over 1 000
  // services, half of them TCP (a busy node: the kernel sends only the filters' service).
  struct Table {
    const char* name;
    int others;
    bool spread;
  };
  const Table tables[] = {{"empty", 0, false},
                          {"one-service", entries - 10, false},
                          {"many-services", entries - 10, true}};
  for (const Table& t : tables) {
    uint8_t family = AF_INET;
    if (nfct_query(h, NFCT_Q_FLUSH, &family) < 0)
      Fail(std::string("flush: ") + std::strerror(errno));
    // The rest of the table, translated to an endpoint that stays, so the filters must look at
    // each entry the kernel sends and keep it.
    for (int i = 0; i < t.others; ++i) {
      const uint32_t client = kFirstOther + static_cast<uint32_t>(i);
      if (!t.spread) {
        Create(h, client, 40000, kKeptEndpoint);
      } else {
        const int svc = i % 1000;
        Create(h, client, 40000, kKeptEndpoint,
               "10.97." + std::to_string(svc / 250) + "." + std::to_string(svc % 250 + 1),
               i % 2 ? IPPROTO_TCP : IPPROTO_UDP);
      }
    }
    for (const int nfilters : {1, 10}) {
      std::vector<kpx::ConntrackFilter> filters;
      for (int i = 0; i < nfilters; ++i) {
        kpx::ConntrackFilter f;
        f.orig_dst = kpx::IpAddress::Parse(kService);
        f.dst_nat = kpx::IpAddress::Parse(RemovedEndpoint(i));
        filters.push_back(f);
      }
      const int victims = t.others > 0 ? nfilters : 0;
      // Each sync must delete exactly the victims, or the figures would time the wrong work.
      const std::vector<std::pair<std::string, std::function<void()>>> adapters = {
          {"exec-conntrack",
           [&] {
             for (const auto& f : filters) {
               auto out = exec.Run({"conntrack", "-D", "-f", "ipv4", "-p", "udp", "--orig-dst",
                                    f.orig_dst->ToString(), "--dst-nat", f.dst_nat->ToString()},
                                   "");
               if (!out.ok()) Fail("conntrack: " + out.status().message());
               const std::string want = victims > 0 ? "1 flow entries" : "0 flow entries";
               if (out->err.find(want) == std::string::npos) Fail("conntrack: " + out->err);
             }
           }},
          {"netlink",
           [&] {
             if (auto st = netlink.Delete(filters); !st.ok()) Fail(st.message());
             if (netlink.last_deleted() != static_cast<uint64_t>(victims)) {
               Fail("netlink: deleted " + std::to_string(netlink.last_deleted()) + " of " +
                    std::to_string(victims));
             }
           }},
      };
      for (const auto& [name, run] : adapters) {
        std::vector<double> ms;
        double user = 0, sys = 0;
        for (int r = 0; r < repeat; ++r) {
          for (int i = 0; i < victims; ++i) {
            Create(h, kFirstVictim + static_cast<uint32_t>(i), 40000, RemovedEndpoint(i));
          }
          const auto cpu = CpuMs();
          const auto start = std::chrono::steady_clock::now();
          run();
          const auto cpu_after = CpuMs();
          user += cpu_after.first - cpu.first;
          sys += cpu_after.second - cpu.second;
          ms.push_back(
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count());
        }
        const Stats s = Summarize(ms);
        const std::string dumped =
            name == "netlink" ? std::to_string(netlink.last_dumped()) : std::string("-");
        std::printf("%s,%d,%d,%s,%.3f,%.3f,%.3f,%.3f,%.3f,%s\n", t.name, t.others + victims,
                    nfilters, name.c_str(), s.median, s.p90, s.max, user / repeat, sys / repeat,
                    dumped.c_str());
        std::fflush(stdout);
      }
    }
  }
  nfct_close(h);
  return 0;
}
