#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace kpx::testing {

// Runs argv (no shell). An error names the command and carries its stderr.
Status RunCommand(const std::vector<std::string>& argv);

// The command's stdout, or "" when it could not run.
std::string CommandOutput(const std::vector<std::string>& argv);

}  // namespace kpx::testing
