// kpx-bench-ipset: what one ipset change and one full-sync ipset save cost through the ipset(8)
// binary (posix_spawn of `ipset restore -exist` / `ipset save`, as kpx did before issue 14) and
// in process through libipset (LibipsetIpset, what kpx uses now). Bounded: a fixed number of
// rounds. It unshares a network namespace of its own first, so it never sees or touches the
// host's sets (the spawned binaries inherit that namespace); needs root.
//
//   kpx-bench-ipset [--adds N] [--entries M]
//
// N one-element adds (default 200) each way, then one set of M entries (default 110 000, IPVS
// mode's KUBE-LOOP-BACK at 10 000 services x 10 local endpoints plus the rest of its sets) saved
// 5 times each way. Prints a Markdown table: median and p99 wall time per call.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "proxier/netfilter/libipset_ipset.h"
#include "proxier/netfilter/subprocess_executor.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "kpx-bench-ipset: %s\n", what.c_str());
  std::exit(1);
}

std::string Ip(int i) {
  return "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." +
         std::to_string(i & 255);
}

std::string LoopBackEntry(int i) { return Ip(i) + ",tcp:8080," + Ip(i); }

// Wall time of each of `rounds` calls of `call(i)`, in milliseconds, sorted.
std::vector<double> Time(int rounds, const std::function<void(int)>& call) {
  std::vector<double> ms;
  for (int i = 0; i < rounds; ++i) {
    const auto start = Clock::now();
    call(i);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

void Row(const char* what, const char* how, const std::vector<double>& ms) {
  const double median = ms[ms.size() / 2];
  const double p99 = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  std::printf("| %s | %s | %zu | %.3f | %.3f |\n", what, how, ms.size(), median, p99);
}

void Check(const kpx::Status& s, const std::string& what) {
  if (!s.ok()) Fail(what + ": " + s.message());
}

}  // namespace

int main(int argc, char** argv) {
  int adds = 200;
  int entries = 110000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--adds" && i + 1 < argc) {
      adds = std::atoi(argv[++i]);
    } else if (a == "--entries" && i + 1 < argc) {
      entries = std::atoi(argv[++i]);
    } else {
      Fail("usage: kpx-bench-ipset [--adds N] [--entries M]");
    }
  }
  if (adds < 1 || entries < 1 || entries > (1 << 24)) Fail("--adds and --entries must be positive");
  if (unshare(CLONE_NEWNET) != 0) Fail(std::string("unshare(CLONE_NEWNET): ") + strerror(errno));

  kpx::SubprocessExecutor exec;
  auto binary = [&](const std::vector<std::string>& args, std::string_view in) {
    auto r = exec.Run(args, in);
    if (!r.ok()) Fail(args[1] + ": " + r.status().message());
    if (r->exit_code != 0) Fail(args[1] + ": " + r->err);
    return r->out;
  };
  auto opened = kpx::LibipsetIpset::Open();
  if (!opened.ok()) Fail(opened.status().message());
  kpx::LibipsetIpset& lib = **opened;

  const std::string create = "create KUBE-LOOP-BACK hash:ip,port,ip family inet maxelem " +
                             std::to_string(std::max(65536, 2 * entries)) + "\n";
  Check(lib.Restore(create), "create");

  std::printf("| call | through | calls | median ms | p99 ms |\n|---|---|---|---|---|\n");
  // Distinct elements, so every call changes the set as an endpoint change does.
  Row("one-element add", "ipset restore -exist (spawned)", Time(adds, [&](int i) {
        binary({"ipset", "restore", "-exist"}, "add KUBE-LOOP-BACK " + LoopBackEntry(i) + "\n");
      }));
  Row("one-element add", "LibipsetIpset::Restore", Time(adds, [&](int i) {
        Check(lib.Restore("add KUBE-LOOP-BACK " + LoopBackEntry(adds + i) + "\n"), "add");
      }));

  Check(lib.Restore("flush KUBE-LOOP-BACK\n"), "flush");
  std::string fill;
  for (int i = 0; i < entries; ++i) fill += "add KUBE-LOOP-BACK " + LoopBackEntry(i) + "\n";
  Row("restore of all entries into an empty set", "ipset restore -exist (spawned)",
      Time(1, [&](int) {
        binary({"ipset", "restore", "-exist"}, fill);
      }));
  Check(lib.Restore("flush KUBE-LOOP-BACK\n"), "flush");
  Row("restore of all entries into an empty set", "LibipsetIpset::Restore",
      Time(1, [&](int) { Check(lib.Restore(fill), "fill"); }));

  size_t binary_bytes = 0;
  size_t lib_bytes = 0;
  Row("save", "ipset save (spawned)", Time(5, [&](int) {
        binary_bytes = binary({"ipset", "save"}, "").size();
      }));
  Row("save", "LibipsetIpset::Save", Time(5, [&](int) {
        auto saved = lib.Save();
        if (!saved.ok()) Fail("save: " + saved.status().message());
        lib_bytes = saved->size();
      }));
  std::printf("\n%d entries; save output %zu bytes (binary) and %zu bytes (libipset)\n", entries,
              binary_bytes, lib_bytes);
  return binary_bytes == lib_bytes ? 0 : 1;
}
