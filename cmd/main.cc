// kpx: a drop-in replacement for kube-proxy. This file only turns the command line into a
// configuration; cmd/kpx_app.cc wires the parts.

#include <glog/logging.h>

#include <iostream>

#include "cmd/config_file.h"
#include "cmd/flag_set.h"
#include "cmd/klog_format.h"
#include "cmd/kpx_app.h"
#include "cmd/kpx_flags.h"

int main(int argc, char** argv) {
  kpx::KpxConfig config;
  kpx::FlagSet flags;
  kpx::RegisterKpxFlags(flags, config);
  bool help = false;
  flags.Bool("help", &help, "Show this help.");

  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0], &kpx::KlogPrefix, nullptr);

  if (kpx::Status st = flags.Parse(argc, argv); !st.ok()) {
    std::cerr << "kpx: " << st.message() << "\nRun 'kpx --help' for the flags.\n";
    return 2;
  }
  if (help) {
    std::cout << flags.Usage();
    return 0;
  }
  if (!config.config_file.empty()) {
    // The file is the base; flags given on the command line override it, as in kube-proxy.
    const std::string path = config.config_file;
    auto loaded = kpx::LoadConfigFile(path, kpx::KpxConfig{});
    if (!loaded.ok()) {
      std::cerr << "kpx: invalid configuration: " << loaded.status().message() << "\n";
      LOG(ERROR) << "invalid configuration: " << loaded.status().message();
      return 2;
    }
    config = std::move(loaded).value();
    if (kpx::Status st = flags.Parse(argc, argv); !st.ok()) {
      std::cerr << "kpx: " << st.message() << "\n";
      return 2;
    }
  }
  FLAGS_v = config.verbosity;
  if (kpx::Status st = kpx::ValidateConfig(config); !st.ok()) {
    std::cerr << "kpx: invalid configuration: " << st.message() << "\n";
    LOG(ERROR) << "invalid configuration: " << st.message();
    return 2;
  }
  return kpx::RunKpx(config, std::cout);
}
