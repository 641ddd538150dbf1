// kpx-bench-churn: endpoint churn at a fixed rate against kpx's --source directory, each change
// stamped the way the EndpointSlice controller stamps it, so kpx's
// kubeproxy_network_programming_duration_seconds measures from the change to the sync that
// applied it.
//
//   kpx-bench-churn --dir DIR --edit-dir EDIT_DIR [--rate R] [--seconds S]
//
// EDIT_DIR holds kpx-bench-gen's edit-slice.a and edit-slice.b (one endpoint apart), both with
// the placeholder trigger time 2000-01-01T00:00:00Z. Change i (at start + i/R, on an absolute
// schedule so a slow write does not lower the rate) writes version b for even i and a for odd i
// with the placeholder replaced by the current time (RFC 3339, nanoseconds, UTC), into a
// temporary file renamed over DIR/edit-slice.json: kpx sees one complete file per change.
//
// Prints one CSV row: changes,seconds,late_max_ms (how far the worst write fell behind its
// schedule: a loaded machine may not keep the rate). Exit status 0, 1 on I/O errors, 2 on usage.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "base/rfc3339.h"

namespace {

constexpr char kPlaceholder[] = "2000-01-01T00:00:00Z";

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "kpx-bench-churn: %s\nusage: kpx-bench-churn --dir DIR --edit-dir EDIT_DIR "
               "[--rate R] [--seconds S]\n",
               why.c_str());
  std::exit(2);
}

std::string ReadOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "kpx-bench-churn: cannot read %s: %s\n", path.c_str(),
                 std::strerror(errno));
    std::exit(1);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// `text` with its one placeholder replaced by `stamp`.
std::string Stamped(const std::string& text, size_t at, const std::string& stamp) {
  std::string out = text;
  out.replace(at, sizeof(kPlaceholder) - 1, stamp);
  return out;
}

void WriteOrDie(const std::string& tmp, const std::string& target, const std::string& text) {
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr || std::fwrite(text.data(), 1, text.size(), f) != text.size() ||
      std::fclose(f) != 0 || std::rename(tmp.c_str(), target.c_str()) != 0) {
    std::fprintf(stderr, "kpx-bench-churn: writing %s failed: %s\n", target.c_str(),
                 std::strerror(errno));
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, edit_dir;
  double rate = 20, seconds = 30;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage("missing value for " + flag);
    const char* v = argv[++i];
    if (flag == "--dir") {
      dir = v;
    } else if (flag == "--edit-dir") {
      edit_dir = v;
    } else if (flag == "--rate") {
      rate = std::atof(v);
    } else if (flag == "--seconds") {
      seconds = std::atof(v);
    } else {
      Usage("unknown flag " + flag);
    }
  }
  if (dir.empty() || edit_dir.empty()) Usage("--dir and --edit-dir are required");
  if (!(rate > 0 && rate <= 1000)) Usage("--rate must be in (0, 1000]");
  if (!(seconds > 0 && seconds <= 3600)) Usage("--seconds must be in (0, 3600]");

  const std::string versions[2] = {ReadOrDie(edit_dir + "/edit-slice.b"),
                                   ReadOrDie(edit_dir + "/edit-slice.a")};
  size_t at[2];
  for (int v = 0; v < 2; ++v) {
    at[v] = versions[v].find(kPlaceholder);
    if (at[v] == std::string::npos) {
      std::fprintf(stderr,
                   "kpx-bench-churn: no trigger-time placeholder %s in %s (regenerate it "
                   "with kpx-bench-gen --edit-dir)\n",
                   kPlaceholder, edit_dir.c_str());
      return 1;
    }
  }
  const std::string tmp = dir + "/.churn.tmp";
  const std::string target = dir + "/edit-slice.json";
  const long changes = static_cast<long>(rate * seconds);
  const auto period = std::chrono::duration<double>(1.0 / rate);
  const auto start = std::chrono::steady_clock::now();
  double late_max = 0;
  for (long i = 0; i < changes; ++i) {
    const auto due =
        start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(period * i);
    std::this_thread::sleep_until(due);
    late_max = std::max(
        late_max,
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - due).count());
    const int v = static_cast<int>(i % 2);
    WriteOrDie(tmp, target,
               Stamped(versions[v], at[v], kpx::FormatRfc3339(std::chrono::system_clock::now())));
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%ld,%.2f,%.1f\n", changes, elapsed, late_max);
  return 0;
}
