#include "tests/support/command.h"

#include "proxier/netfilter/subprocess_executor.h"

namespace kpx::testing {

Status RunCommand(const std::vector<std::string>& argv) {
  SubprocessExecutor exec;
  auto out = exec.Run(argv, "");
  if (!out.ok()) return out.status();
  if (out->exit_code != 0) {
    std::string cmd;
    for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return Status::Error(cmd + ": " + out->err);
  }
  return Status::Ok();
}

std::string CommandOutput(const std::vector<std::string>& argv) {
  SubprocessExecutor exec;
  auto out = exec.Run(argv, "");
  return out.ok() ? out->out : "";
}

}  // namespace kpx::testing
