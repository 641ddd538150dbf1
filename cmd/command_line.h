#pragma once

#include <string>

#include "base/status.h"
#include "cmd/kpx_config.h"

namespace kpx {

// The configuration a command line asks for: kube-proxy's defaults, then the --config file if
// one is named, then the flags given on the command line (which win over the file), validated.
struct CommandLine {
  KpxConfig config;
  bool help = false;
  std::string usage;
};

// Errors name the flag or config field; the caller exits 2 with the message. --help and
// --version skip validation.
Result<CommandLine> ParseCommandLine(int argc, const char* const* argv);

// What --version prints ("raw" asks for the detailed form, as kube-proxy's verflag does).
std::string VersionText(const std::string& request);

}  // namespace kpx
