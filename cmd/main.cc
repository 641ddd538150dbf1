// kpx: a drop-in replacement for kube-proxy. This file only turns the command line into a
// configuration; cmd/kpx_app.cc wires the parts.

#include <glog/logging.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

#include "cmd/command_line.h"
#include "cmd/klog_format.h"
#include "cmd/kpx_app.h"

int main(int argc, char** argv) {
  // A peer closing a socket must be an error on that socket, not the end of kpx.
  signal(SIGPIPE, SIG_IGN);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0], &kpx::KlogPrefix, nullptr);

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
  // klog's --vmodule "pattern=N,...": glog matches the same file-name globs.
  std::istringstream vmodule(command_line->config.vmodule);
  for (std::string entry; std::getline(vmodule, entry, ',');) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    google::SetVLOGLevel(entry.substr(0, eq).c_str(), std::atoi(entry.c_str() + eq + 1));
  }
  return kpx::RunKpx(command_line->config, std::cout);
}
