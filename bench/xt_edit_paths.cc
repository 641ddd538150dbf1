// kpx-bench-xt-paths blob|blob-read|libiptc FULL PARTIAL: the libiptc runner's ways of applying
// a restore, timed on the same input: editing the table's blob (XtTableBlob, the default) from
// the copy it kept of its last write, the same reading the table back every time, or libiptc's
// parse-and-compile. FULL and PARTIAL are restore texts, e.g. the full.txt and
// partial.txt that kpx-bench-iptables-sync writes (10 000 x 10:
// `kpx-bench-iptables-sync 10000 10 2 DIR`). In a network namespace of its own (never the
// host's tables): FULL (the first sync), PARTIAL (one incremental sync), then PARTIAL without
// its -X lines ("refill": the same chains flushed and filled again, repeatable) REFILLS times
// (default 3).
// Prints one CSV row: path,full_ms,partial_ms,refill_ms (refill: the median). Needs
// CAP_SYS_ADMIN and CAP_NET_ADMIN; exit status 1 on a failed restore, 2 on usage errors.
//
// One path per process, so neither runs on a heap the other fragmented (libiptc makes hundreds
// of thousands of small allocations), and the restores on a second thread, as kpx's syncs are.
// Alternate the paths over several processes, e.g.
// `for i in 1 2 3; do for p in blob libiptc; do kpx-bench-xt-paths $p F P; done; done`.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
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

int Run(const std::string& path, const std::string& full, const std::string& partial, int refills) {
  std::string refill;
  std::istringstream lines(partial);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("-X ", 0) != 0) refill += line + "\n";
  }
  // Applies to this thread only, which is the one that restores.
  if (unshare(CLONE_NEWNET) != 0) {
    std::perror("kpx-bench-xt-paths: unshare(CLONE_NEWNET)");
    return 1;
  }
  kpx::LibiptcIptablesRunner::Options options;
  options.edit_blobs = path != "libiptc";
  options.tables.keep_tables = path == "blob";
  kpx::LibiptcIptablesRunner runner(options);
  const double f = TimedRestore(runner, full);
  const double p = TimedRestore(runner, partial);
  std::vector<double> r;
  for (int i = 0; i < refills; ++i) r.push_back(TimedRestore(runner, refill));
  std::sort(r.begin(), r.end());
  std::printf("%s,%.1f,%.1f,%.1f\n", path.c_str(), f, p, r[r.size() / 2]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc == 4 || argc == 5 ? argv[1] : "";
  const int refills = argc == 5 ? std::atoi(argv[4]) : 3;
  if ((path != "blob" && path != "blob-read" && path != "libiptc") || refills < 1) {
    std::fprintf(stderr,
                 "usage: kpx-bench-xt-paths blob|blob-read|libiptc FULL PARTIAL [REFILLS]\n");
    return 2;
  }
  const std::string full = ReadFile(argv[2]);
  const std::string partial = ReadFile(argv[3]);
  int status = 0;
  std::thread worker([&] { status = Run(path, full, partial, refills); });
  worker.join();
  return status;
}
