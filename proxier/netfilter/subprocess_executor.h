#pragma once

#include "proxier/netfilter/command_executor.h"

namespace kpx {

// posix_spawnp (glibc: clone with CLONE_VM | CLONE_VFORK, no copy of this process's memory) with
// stdin, stdout and stderr piped. The child gets no other descriptor and starts with default
// signal dispositions and an empty signal mask. Thread-safe: keeps no state.
// SIGPIPE from a child that exits before reading all its input is blocked for the calling thread
// while writing.
class SubprocessExecutor : public CommandExecutor {
 public:
  Result<CommandOutput> Run(const std::vector<std::string>& argv,
                            std::string_view stdin_data) override;
};

}  // namespace kpx
