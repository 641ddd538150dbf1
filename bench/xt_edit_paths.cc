// kpx-bench-xt-paths FULL PARTIAL [ROUNDS]: the libiptc runner's two ways of applying a restore,
// on the same input in the same process: editing the table's blob (XtTableBlob, the default) and
// libiptc's parse-and-compile. FULL and PARTIAL are restore texts, e.g. the full.txt and
// partial.txt that kpx-bench-iptables-sync writes (10 000 x 10:
// `kpx-bench-iptables-sync 10000 10 2 DIR`). Per round and path, in a fresh network namespace
// of this process (never the host's tables): FULL (the first sync), PARTIAL (one incremental
// sync), then PARTIAL without its -X lines ("refill": the same chains flushed and filled again,
// repeatable) three times. Prints one CSV row per round and path:
// path,full_ms,partial_ms,refill_ms (refill: the median of three). Needs CAP_SYS_ADMIN and
// CAP_NET_ADMIN. Bounded: ROUNDS (default 2) at most 10. Exit status 1 on a failed restore.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "proxier/netfilter/libiptc_iptables_runner.h"

namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "kpx-bench-xt-paths: cannot read %s\n", path);
    std::exit(2);
  }
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Times one restore; exits on failure (the figures would mean nothing).
double TimedRestore(kpx::LibiptcIptablesRunner& runner, const std::string& text) {
  const auto t0 = std::chrono::steady_clock::now();
  kpx::Status st = runner.Restore(kpx::IpFamily::kIPv4, text);
  const auto t1 = std::chrono::steady_clock::now();
  if (!st.ok()) {
    std::fprintf(stderr, "kpx-bench-xt-paths: %s\n", st.message().c_str());
    std::exit(1);
  }
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: kpx-bench-xt-paths FULL PARTIAL [ROUNDS]\n");
    return 2;
  }
  const std::string full = ReadFile(argv[1]);
  const std::string partial = ReadFile(argv[2]);
  std::string refill;
  std::istringstream lines(partial);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("-X ", 0) != 0) refill += line + "\n";
  }
  const int rounds = argc == 4 ? std::atoi(argv[3]) : 2;
  if (rounds < 1 || rounds > 10) {
    std::fprintf(stderr, "kpx-bench-xt-paths: ROUNDS must be in 1..10\n");
    return 2;
  }
  std::printf("path,full_ms,partial_ms,refill_ms\n");
  for (int round = 0; round < rounds; ++round) {
    // Alternating, so a change in the machine's load falls on both paths.
    for (const bool edit_blobs : {true, false}) {
      if (unshare(CLONE_NEWNET) != 0) {
        std::perror("kpx-bench-xt-paths: unshare(CLONE_NEWNET)");
        return 1;
      }
      kpx::LibiptcIptablesRunner runner(edit_blobs);
      const double f = TimedRestore(runner, full);
      const double p = TimedRestore(runner, partial);
      std::vector<double> r;
      for (int i = 0; i < 3; ++i) r.push_back(TimedRestore(runner, refill));
      std::sort(r.begin(), r.end());
      std::printf("%s,%.1f,%.1f,%.1f\n", edit_blobs ? "blob" : "libiptc", f, p, r[1]);
      std::fflush(stdout);
    }
  }
  return 0;
}
