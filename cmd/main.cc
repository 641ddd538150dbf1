// kpx: a drop-in replacement for kube-proxy. This file only turns the command line into a
// configuration; cmd/kpx_app.cc wires the parts.

#include <glog/logging.h>

#include <malloc.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

#include "cmd/command_line.h"
#include "cmd/huge_page_heap.h"
#include "cmd/klog_format.h"
#include "cmd/kpx_app.h"
#include "cmd/open_file_limit.h"

int main(int argc, char** argv) {
  // First: a re-execution replaces this image, so nothing may be set up before it.
  const std::string not_reexecuted = kpx::ReexecWithHugePageHeap(argv);
  // A peer closing a socket must be an error on that socket, not the end of kpx.
  signal(SIGPIPE, SIG_IGN);
  // Blocks of 256 KiB and more (a manifest file's bytes, a sync's batch and element arrays:
  // transients) come from mmap and go back whole when freed. glibc's default threshold rises to
  // the largest such block freed (up to 32 MiB), after which they come from the heap, where the
  // long-lived per-port blocks allocated meanwhile pin the pages around them: at 100 000 x 10
  // that was 3.4 MiB of RSS after the first sync (121.5 -> 118.1 MiB). 64 KiB saved no more and
  // cost a first sync at 10 000 x 10 twice the compute CPU (page faults on fresh mappings).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0], &kpx::KlogPrefix, nullptr);
  if (!not_reexecuted.empty()) {
    LOG(WARNING) << "the heap stays on small pages (" << not_reexecuted
                 << "): a first sync of a large cluster is slower";
  }

  auto command_line = kpx::ParseCommandLine(argc, argv);
  if (!command_line.ok()) {
    std::cerr << "kpx: " << command_line.status().message()
              << "\nRun 'kpx --help' for the flags.\n";
    LOG(ERROR) << command_line.status().message();
    return 2;
  }
  if (command_line->help) {
    std::cout << command_line->usage;
    return 0;
  }
  if (!command_line->config.version_request.empty()) {
    std::cout << kpx::VersionText(command_line->config.version_request);
    return 0;
  }
  FLAGS_v = command_line->config.verbosity;
  for (const std::string& flag : command_line->flags_over_config) {
    LOG(WARNING) << flag << " is given with --config: kube-proxy would ignore it, kpx applies it "
                 << "over the file";
  }
  if (auto limit = kpx::RaiseOpenFileLimit(); limit.ok()) {
    VLOG(1) << "open-file limit " << *limit;
  } else {
    LOG(WARNING) << limit.status().message();
  }
  // klog's --vmodule "pattern=N,...": glog matches the same file-name globs.
  std::istringstream vmodule(command_line->config.vmodule);
  for (std::string entry; std::getline(vmodule, entry, ',');) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    google::SetVLOGLevel(entry.substr(0, eq).c_str(), std::atoi(entry.c_str() + eq + 1));
  }
  return kpx::RunKpx(command_line->config, std::cout);
}
