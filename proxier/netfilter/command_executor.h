#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kpx {

struct CommandOutput {
  int exit_code = 0;
  std::string out;
  std::string err;
};

// Runs a program with an argv (never through a shell) and optional stdin. The seam under the
// exec-based adapters (iptables, conntrack), so their argv construction is testable without
// running anything. A Status error means the program could not be run at all; a non-zero exit is
// reported in CommandOutput for the caller to interpret.
class CommandExecutor {
 public:
  virtual ~CommandExecutor() = default;
  virtual Result<CommandOutput> Run(const std::vector<std::string>& argv,
                                    std::string_view stdin_data) = 0;
};

}  // namespace kpx
