#pragma once

#include "proxier/netfilter/command_executor.h"

namespace kpx {

// fork + execvp with stdin, stdout and stderr piped. Thread-safe: keeps no state. SIGPIPE from a
// child that exits before reading all its input is blocked for the calling thread while writing.
class SubprocessExecutor : public CommandExecutor {
 public:
  Result<CommandOutput> Run(const std::vector<std::string>& argv,
                            std::string_view stdin_data) override;
};

}  // namespace kpx
