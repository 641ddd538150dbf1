#pragma once

#include <string>

namespace kpx::testing {

// Switches the calling thread into the named network namespace (/run/netns/<name>) for the
// guard's lifetime. Aborts rather than go on in the host namespace: nothing a test runs may touch
// the host's rules, so a switch that did not happen is fatal, not a failure to report.
class InNetns {
 public:
  explicit InNetns(const std::string& name);
  InNetns(const InNetns&) = delete;
  InNetns& operator=(const InNetns&) = delete;
  ~InNetns();

 private:
  int original_ = -1;
};

}  // namespace kpx::testing
