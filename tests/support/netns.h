#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace kpx::testing {

// Private network namespaces for one test, named "<prefix>-<pid>-<random>-<role>" so that tests
// run at the same time on one machine (several engineers, parallel CTest) never collide, with veth
// links between them and processes inside them. Everything is removed on destruction, and when
// the test binary dies of SIGINT, SIGTERM, SIGABRT, SIGSEGV or SIGBUS a handler that only makes
// syscalls kills the processes and unmounts and unlinks the namespaces before the signal goes on.
class TestNetns {
 public:
  explicit TestNetns(std::string prefix);
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;
  ~TestNetns();

  // Why namespaces cannot be made here (not root, no `ip netns`), for GTEST_SKIP; empty if they
  // can.
  static std::string Unavailable();

  // Creates the namespace for `role` with its loopback up.
  Status Add(const std::string& role);
  // The full name of `role`'s namespace (as `ip netns` and /run/netns know it).
  const std::string& Name(const std::string& role) const;
  // A veth pair: `dev_a` in `a`, `dev_b` in `b`, both up.
  Status Link(const std::string& a, const std::string& dev_a, const std::string& b,
              const std::string& dev_b);
  // `ip -n <name of role> args...`.
  Status Ip(const std::string& role, const std::vector<std::string>& args);
  // Runs argv inside the namespace (`ip netns exec`) and waits for it.
  Status Exec(const std::string& role, const std::vector<std::string>& argv);
  // Starts argv inside the namespace, stdout to /dev/null; the process is killed on destruction
  // (or on a fatal signal). Returns its pid, or -1.
  pid_t Spawn(const std::string& role, const std::vector<std::string>& argv);

 private:
  std::string tag_;
  std::map<std::string, std::string> names_;  // role -> full name
  std::vector<std::string> created_;
  std::vector<pid_t> pids_;
};

}  // namespace kpx::testing
